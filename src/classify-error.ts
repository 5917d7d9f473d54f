import type { FailureReason } from './probe-result.ts';
import { CredentialUnavailableError } from './credentials.ts';

/** A step took longer than its timeout. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
}

/** The server answered, but not what the protocol promised (wrong value, malformed reply). */
export class UnexpectedReplyError extends Error {
  override readonly name = 'UnexpectedReplyError';
}

const NETWORK_CODES: Readonly<Record<string, FailureReason>> = {
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NONAME: 'dns',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'connection_refused',
  ENETUNREACH: 'connection_refused',
};

/** Error prefixes of Redis replies, in the order they are tested. */
const REPLY_PREFIXES: readonly (readonly [RegExp, FailureReason])[] = [
  [/^(WRONGPASS|NOAUTH)\b/, 'auth'],
  [/^ERR (invalid password|invalid username-password|AUTH <password> called without any password)/i, 'auth'],
  [/^ERR Client sent AUTH, but no password is set/i, 'auth'],
  [/^NOPERM\b/, 'noperm'],
  [/^READONLY\b/, 'readonly'],
  [/^OOM\b/, 'oom'],
  [/^LOADING\b/, 'loading'],
  [/^(BUSY|BUSYKEY)\b/, 'busy'],
  [/^CLUSTERDOWN\b/, 'clusterdown'],
  // A redirect means the probe's idea of who owns the slot is stale (failover, resharding, migration).
  [/^(MOVED|ASK) \d+ /, 'moved'],
  [/^TRYAGAIN\b/, 'tryagain'],
  [/^ERR unknown command\b/i, 'unexpected_reply'],
];

/** Maps any error a probe step can meet to the closed set of reasons (pure; never throws). */
export function classifyError(error: unknown): FailureReason {
  if (error instanceof StepTimeoutError) return 'timeout';
  if (error instanceof UnexpectedReplyError) return 'unexpected_reply';
  if (error instanceof CredentialUnavailableError) return 'token';
  if (!(error instanceof Error)) return 'other';

  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined) {
    const network = NETWORK_CODES[code];
    if (network) return network;
    if (isTlsCode(code)) return 'tls';
  }
  // ioredis reply errors are plain ReplyError instances carrying the server's text.
  if (error.name === 'ReplyError') {
    for (const [pattern, reason] of REPLY_PREFIXES) if (pattern.test(error.message)) return reason;
    return 'other';
  }
  if (/Protocol error|Parser|unexpected|Unknown RESP type/i.test(error.message)) return 'unexpected_reply';
  if (/Connection is closed|Stream isn't writeable|socket hang up/i.test(error.message)) return 'connection_reset';
  if (/certificate|SSL|TLS/i.test(error.message)) return 'tls';
  return 'other';
}

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code === 'EPROTO' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'HOSTNAME_MISMATCH'
  );
}
