import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyError, UnexpectedReplyError } from '../../src/probe/classify-error.ts';
import { StepTimeoutError } from '../../src/shared/timeout.ts';
import { CredentialUnavailableError } from '../../src/credentials/credential.ts';

/** ioredis reply errors are plain errors named ReplyError carrying the server's text. */
function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

function codeError(code: string, message = `${code} happened`): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyError', () => {
  const cases: [string, unknown, string][] = [
    ['our timeout', new StepTimeoutError('ping timed out'), 'timeout'],
    ['a wrong reply', new UnexpectedReplyError('GET mismatch'), 'unexpected_reply'],
    ['no token yet', new CredentialUnavailableError('no token'), 'token'],
    ['refused', codeError('ECONNREFUSED'), 'connection_refused'],
    ['reset', codeError('ECONNRESET'), 'connection_reset'],
    ['broken pipe', codeError('EPIPE'), 'connection_reset'],
    ['unknown host', codeError('ENOTFOUND'), 'dns'],
    ['resolver down', codeError('EAI_AGAIN'), 'dns'],
    ['kernel connect timeout', codeError('ETIMEDOUT'), 'timeout'],
    ['untrusted CA', codeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls'],
    ['self-signed', codeError('SELF_SIGNED_CERT_IN_CHAIN'), 'tls'],
    ['expired cert', codeError('CERT_HAS_EXPIRED'), 'tls'],
    ['wrong host name', codeError('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    ['TLS alert', codeError('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), 'tls'],
    ['wrong password', replyError('WRONGPASS invalid username-password pair or user is disabled.'), 'auth'],
    ['not authenticated', replyError('NOAUTH Authentication required.'), 'auth'],
    ['legacy invalid password', replyError('ERR invalid password'), 'auth'],
    ['AUTH without requirepass', replyError('ERR AUTH <password> called without any password configured for the default user.'), 'auth'],
    ['no permission', replyError("NOPERM User x has no permissions to run the 'set' command"), 'noperm'],
    ['replica', replyError("READONLY You can't write against a read only replica."), 'readonly'],
    ['out of memory', replyError("OOM command not allowed when used memory > 'maxmemory'."), 'oom'],
    ['loading', replyError('LOADING Redis is loading the dataset in memory'), 'loading'],
    ['busy script', replyError('BUSY Redis is busy running a script.'), 'busy'],
    ['unknown command', replyError("ERR unknown command 'CLIENT', with args beginning with:"), 'unexpected_reply'],
    ['other reply', replyError('ERR something else'), 'other'],
    ['closed connection', new Error('Connection is closed.'), 'connection_reset'],
    ['parser error', new Error('Protocol error, got "@" as reply type byte'), 'unexpected_reply'],
    ['garbage bytes (ioredis 6 parser)', new Error('Unknown RESP type 64 "@". Please report this.'), 'unexpected_reply'],
    ['a string', 'boom', 'other'],
    ['undefined', undefined, 'other'],
    ['a plain error', new Error('mystery'), 'other'],
    ['cluster down', replyError('CLUSTERDOWN The cluster is down'), 'clusterdown'],
    ['cluster slot unserved', replyError('CLUSTERDOWN Hash slot not served'), 'clusterdown'],
    ['moved slot', replyError('MOVED 3999 127.0.0.1:6381'), 'moved'],
    ['moved slot, IPv6 owner', replyError('MOVED 3999 [fd00::4]:15000'), 'moved'],
    ['slot being migrated', replyError('ASK 3999 10.0.0.5:15001'), 'moved'],
    ['multi-key during resharding', replyError('TRYAGAIN Multiple keys request during rehashing of slot'), 'tryagain'],
    ['"MOVED" inside other text', replyError('ERR MOVED is not a command here'), 'other'],
  ];
  for (const [what, error, reason] of cases) {
    it(`${what} → ${reason}`, () => assert.equal(classifyError(error), reason));
  }
});
