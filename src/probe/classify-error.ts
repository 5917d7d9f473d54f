import { StepTimeoutError } from '../shared/timeout.ts';
import type { FailureReason } from '../shared/probe-result.ts';
import { CredentialUnavailableError } from '../credentials/credential.ts';
import { TokenRequestError } from '../credentials/token-request.ts';
import type { TokenFailureKind } from '../credentials/token-request.ts';

/** The server answered, but not what the protocol promised (wrong value, malformed reply). */
export class UnexpectedReplyError extends Error {
  override readonly name = 'UnexpectedReplyError';
}

/**
 * Finer causes than the metric reasons, for explaining a failure (`doctor`'s hints). Closed like the
 * reasons, so an explanation never depends on matching error text outside this module.
 */
export const ERROR_CAUSES = [
  'step_timeout',
  'dns_not_found',
  'dns_unavailable',
  'dns_timeout',
  'connection_refused',
  'network_unreachable',
  'connect_timeout',
  'connection_reset',
  'tls_to_plain_port',
  'tls_handshake_timeout',
  'tls_handshake_reset',
  'plain_to_tls_port',
  'cert_untrusted',
  'cert_expired',
  'cert_not_yet_valid',
  'cert_hostname_mismatch',
  'tls_other',
  'wrongpass',
  'noauth',
  'auth_not_enabled',
  'token_unavailable',
  'token_network',
  'token_timeout',
  'token_http',
  'token_rejected',
  'token_no_principal',
  'token_invalid_response',
  'noperm',
  'readonly',
  'oom',
  'loading',
  'busy',
  'clusterdown',
  'moved',
  'ask',
  'tryagain',
  'unknown_command',
  'unknown_subcommand',
  'unexpected_reply',
  'other',
] as const;
export type ErrorCause = (typeof ERROR_CAUSES)[number];

/** How far a connection had got when it failed; lets an ambiguous error (a reset, a timeout) name its layer. */
export type ConnectionPhase = 'dns' | 'tcp' | 'tls' | 'session';

/** What the caller knows about where the error happened; absent: a command on an open session. */
export interface ClassifyContext {
  readonly phase?: ConnectionPhase;
  /** Whether the connection speaks TLS. */
  readonly tls?: boolean;
}

/** An error reduced to closed values: the metric reason, the finer cause, and facts taken from the reply's fixed shape. */
export interface ClassifiedError {
  readonly reason: FailureReason;
  readonly cause: ErrorCause;
  /** NOPERM: the command the server refused, as it names it (e.g. `client|list`). */
  readonly command?: string;
  /** MOVED / ASK: the node the server redirects to (`host:port`). */
  readonly redirect?: string;
}

const CAUSE_REASONS: Readonly<Record<ErrorCause, FailureReason>> = {
  step_timeout: 'timeout',
  dns_not_found: 'dns',
  dns_unavailable: 'dns',
  dns_timeout: 'timeout',
  connection_refused: 'connection_refused',
  network_unreachable: 'connection_refused',
  connect_timeout: 'timeout',
  connection_reset: 'connection_reset',
  tls_to_plain_port: 'tls',
  tls_handshake_timeout: 'timeout',
  tls_handshake_reset: 'connection_reset',
  plain_to_tls_port: 'connection_reset',
  cert_untrusted: 'tls',
  cert_expired: 'tls',
  cert_not_yet_valid: 'tls',
  cert_hostname_mismatch: 'tls',
  tls_other: 'tls',
  wrongpass: 'auth',
  noauth: 'auth',
  auth_not_enabled: 'auth',
  token_unavailable: 'token',
  token_network: 'token',
  token_timeout: 'token',
  token_http: 'token',
  token_rejected: 'token',
  token_no_principal: 'token',
  token_invalid_response: 'token',
  noperm: 'noperm',
  readonly: 'readonly',
  oom: 'oom',
  loading: 'loading',
  busy: 'busy',
  clusterdown: 'clusterdown',
  moved: 'moved',
  ask: 'moved',
  tryagain: 'tryagain',
  unknown_command: 'unexpected_reply',
  unknown_subcommand: 'other',
  unexpected_reply: 'unexpected_reply',
  other: 'other',
};

const NETWORK_CODES: Readonly<Record<string, ErrorCause>> = {
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  ENOTFOUND: 'dns_not_found',
  EAI_NONAME: 'dns_not_found',
  EAI_AGAIN: 'dns_unavailable',
  EAI_FAIL: 'dns_unavailable',
  ETIMEDOUT: 'connect_timeout',
  EHOSTUNREACH: 'network_unreachable',
  ENETUNREACH: 'network_unreachable',
};

const CERT_CODES: Readonly<Record<string, ErrorCause>> = {
  CERT_HAS_EXPIRED: 'cert_expired',
  CERT_NOT_YET_VALID: 'cert_not_yet_valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'cert_hostname_mismatch',
  HOSTNAME_MISMATCH: 'cert_hostname_mismatch',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'cert_untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'cert_untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'cert_untrusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'cert_untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'cert_untrusted',
  CERT_UNTRUSTED: 'cert_untrusted',
  // OpenSSL's reading of a plain-text answer (e.g. "-ERR ...") where a TLS record was due.
  ERR_SSL_WRONG_VERSION_NUMBER: 'tls_to_plain_port',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'tls_to_plain_port',
  ERR_SSL_HTTP_REQUEST: 'tls_to_plain_port',
};

const TOKEN_KINDS: Readonly<Record<TokenFailureKind, ErrorCause>> = {
  timeout: 'token_timeout',
  network: 'token_network',
  http: 'token_http',
  rejected: 'token_rejected',
  invalid_response: 'token_invalid_response',
  unavailable: 'token_unavailable',
  no_principal: 'token_no_principal',
  aborted: 'token_timeout',
  unknown: 'token_unavailable',
};

/** Error prefixes of Redis replies, in the order they are tested. */
const REPLY_PREFIXES: readonly (readonly [RegExp, ErrorCause])[] = [
  [/^WRONGPASS\b/, 'wrongpass'],
  [/^NOAUTH\b/, 'noauth'],
  [/^ERR (invalid password|invalid username-password)/i, 'wrongpass'],
  [/^ERR (AUTH <password> called without any password|Client sent AUTH, but no password is set)/i, 'auth_not_enabled'],
  [/^NOPERM\b/, 'noperm'],
  [/^READONLY\b/, 'readonly'],
  [/^OOM\b/, 'oom'],
  [/^LOADING\b/, 'loading'],
  [/^(BUSY|BUSYKEY)\b/, 'busy'],
  [/^CLUSTERDOWN\b/, 'clusterdown'],
  // A redirect means the probe's idea of who owns the slot is stale (failover, resharding, migration).
  [/^MOVED \d+ /, 'moved'],
  [/^ASK \d+ /, 'ask'],
  [/^TRYAGAIN\b/, 'tryagain'],
  [/^ERR unknown command\b/i, 'unknown_command'],
  [/^ERR unknown subcommand\b/i, 'unknown_subcommand'],
];

/** Maps any error a probe step can meet to the closed set of reasons (pure; never throws). */
export function classifyError(error: unknown): FailureReason {
  return classifyErrorCause(error).reason;
}

/** Maps any error to its reason and finer cause; `context` says how far the connection had got (pure; never throws). */
export function classifyErrorCause(error: unknown, context: ClassifyContext = {}): ClassifiedError {
  const cause = causeOf(error, context);
  const classified: ClassifiedError = { reason: CAUSE_REASONS[cause], cause };
  if (cause === 'noperm') {
    // Redis 7: "NOPERM User u has no permissions to run the 'client|list' command"; the quoted word is a command name.
    const command = /'([a-z][a-z0-9|_-]{0,40})'/i.exec((error as Error).message)?.[1];
    return command !== undefined ? { ...classified, command: command.toLowerCase() } : classified;
  }
  if (cause === 'moved' || cause === 'ask') {
    const redirect = /^(?:MOVED|ASK) \d+ (\S{1,300})/.exec((error as Error).message)?.[1];
    return redirect !== undefined ? { ...classified, redirect } : classified;
  }
  return classified;
}

function causeOf(error: unknown, context: ClassifyContext): ErrorCause {
  const { phase } = context;
  if (error instanceof StepTimeoutError) return phase ? timeoutIn(phase) : 'step_timeout';
  if (error instanceof UnexpectedReplyError) return 'unexpected_reply';
  if (error instanceof TokenRequestError) return TOKEN_KINDS[error.kind];
  if (error instanceof CredentialUnavailableError) return 'token_unavailable';
  if (!(error instanceof Error)) return 'other';

  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined) {
    const network = NETWORK_CODES[code];
    if (network === 'connect_timeout' && phase) return timeoutIn(phase);
    if (network === 'connection_reset') return resetIn(context);
    if (network) return network;
    const cert = CERT_CODES[code];
    if (cert) return cert;
    if (isTlsCode(code)) return 'tls_other';
  }
  // ioredis reply errors are plain ReplyError instances carrying the server's text.
  if (error.name === 'ReplyError') {
    for (const [pattern, cause] of REPLY_PREFIXES) if (pattern.test(error.message)) return cause;
    return 'other';
  }
  if (/Protocol error|Parser|unexpected|Unknown RESP type/i.test(error.message)) return 'unexpected_reply';
  if (/Connection is closed|Stream isn't writeable|socket hang up/i.test(error.message)) return resetIn(context);
  if (/certificate|SSL|TLS/i.test(error.message)) return 'tls_other';
  return 'other';
}

/** A timeout names the layer that was waiting: a lookup, a TCP handshake, a TLS handshake, or the server. */
function timeoutIn(phase: ConnectionPhase): ErrorCause {
  return { dns: 'dns_timeout', tcp: 'connect_timeout', tls: 'tls_handshake_timeout', session: 'step_timeout' }[phase] as ErrorCause;
}

/**
 * A connection dropped in the TLS handshake, or dropped by the server at the first plain-text command:
 * the second is what a TLS-only port does with plain text (Azure's 6380 and 10000, redis `tls-port`).
 */
function resetIn(context: ClassifyContext): ErrorCause {
  if (context.phase === 'tls') return 'tls_handshake_reset';
  if (context.phase === 'session' && context.tls === false) return 'plain_to_tls_port';
  return 'connection_reset';
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
