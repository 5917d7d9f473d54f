import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyErrorCause } from '../../src/probe/classify-error.ts';
import { StepTimeoutError } from '../../src/shared/timeout.ts';
import type { ClassifyContext } from '../../src/probe/classify-error.ts';

function replyError(message: string): Error {
  return Object.assign(new Error(message), { name: 'ReplyError' });
}
const codeError = (code: string) => Object.assign(new Error(`${code} happened`), { code });

describe('classifyErrorCause', () => {
  const cases: [string, unknown, ClassifyContext, string, string][] = [
    ['a reset at the first plain command', codeError('ECONNRESET'), { phase: 'session', tls: false }, 'plain_to_tls_port', 'connection_reset'],
    ['a reset in the TLS handshake', codeError('ECONNRESET'), { phase: 'tls', tls: true }, 'tls_handshake_reset', 'connection_reset'],
    ['a reset on an open session', codeError('ECONNRESET'), {}, 'connection_reset', 'connection_reset'],
    ['a handshake that got no answer', new StepTimeoutError('connect timed out'), { phase: 'tls', tls: true }, 'tls_handshake_timeout', 'timeout'],
    ['a TCP connect timeout', codeError('ETIMEDOUT'), { phase: 'tcp' }, 'connect_timeout', 'timeout'],
    ['a plain-text answer to TLS', codeError('ERR_SSL_WRONG_VERSION_NUMBER'), { phase: 'tls', tls: true }, 'tls_to_plain_port', 'tls'],
    ['an untrusted chain', codeError('SELF_SIGNED_CERT_IN_CHAIN'), {}, 'cert_untrusted', 'tls'],
    ['an expired certificate', codeError('CERT_HAS_EXPIRED'), {}, 'cert_expired', 'tls'],
    ['another name', codeError('ERR_TLS_CERT_ALTNAME_INVALID'), {}, 'cert_hostname_mismatch', 'tls'],
    ['WRONGPASS', replyError('WRONGPASS invalid username-password pair or user is disabled.'), {}, 'wrongpass', 'auth'],
    ['NOAUTH', replyError('NOAUTH Authentication required.'), {}, 'noauth', 'auth'],
    ['ASK', replyError('ASK 3999 10.0.0.5:15001'), {}, 'ask', 'moved'],
    ['unknown subcommand keeps its old reason', replyError("ERR unknown subcommand 'LIST'"), {}, 'unknown_subcommand', 'other'],
  ];
  for (const [what, error, context, cause, reason] of cases) {
    it(`${what} → ${cause} (${reason})`, () => {
      const classified = classifyErrorCause(error, context);
      assert.equal(classified.cause, cause);
      assert.equal(classified.reason, reason);
    });
  }

  it('takes the refused command from NOPERM and the target node from MOVED', () => {
    assert.equal(classifyErrorCause(replyError("NOPERM User probe has no permissions to run the 'client|list' command")).command, 'client|list');
    assert.equal(classifyErrorCause(replyError('MOVED 3999 10.0.0.4:15000')).redirect, '10.0.0.4:15000');
  });
});
