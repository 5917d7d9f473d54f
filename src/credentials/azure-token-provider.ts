/**
 * The production IdentityProvider: one @azure/identity credential per configured source,
 * with the daemon's own deadline on every call and errors reduced to safe descriptions.
 */
import { createRequire } from 'node:module';
import { rootCertificates } from 'node:tls';
import type * as Identity from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import type { Clock } from '../shared/clock.ts';
import { TokenRequestError, requestWithTimeout } from './token-manager.ts';
import type { AccessTokenResult, IdentityProvider, TokenFailureKind, TokenRequestOptions } from './token-manager.ts';

export type { AccessTokenResult, IdentityProvider } from './token-manager.ts';

/** The scope of Azure Cache for Redis and Azure Managed Redis data-plane tokens. */
export const REDIS_SCOPE = 'https://redis.azure.com/.default';

/** Which @azure/identity credential to use, with its settings (from the YAML config). */
export type EntraSource =
  | {
      /** DefaultAzureCredential: environment, workload identity, managed identity, developer tools. */
      readonly source: 'default';
      /** User-assigned managed identity / workload identity client id. */
      readonly clientId?: string;
      readonly tenantId?: string;
      readonly authorityHost?: string;
      readonly scope?: string;
    }
  | {
      /** AKS workload identity; unset fields come from AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE. */
      readonly source: 'workload-identity';
      readonly clientId?: string;
      readonly tenantId?: string;
      readonly tokenFilePath?: string;
      readonly authorityHost?: string;
      /** Skip authority validation (private clouds, tests against a local authority). */
      readonly disableInstanceDiscovery?: boolean;
      readonly scope?: string;
    }
  | {
      /** System-assigned, or user-assigned when clientId is set. */
      readonly source: 'managed-identity';
      readonly clientId?: string;
      readonly scope?: string;
    }
  | {
      readonly source: 'client-secret';
      readonly tenantId: string;
      readonly clientId: string;
      /** The secret value itself (config reads it from clientSecretFile / clientSecretEnv). */
      readonly clientSecret: string;
      readonly authorityHost?: string;
      readonly disableInstanceDiscovery?: boolean;
      readonly scope?: string;
    }
  | {
      /** The signed-in Azure CLI user (developer machines). */
      readonly source: 'azure-cli';
      readonly tenantId?: string;
      readonly scope?: string;
    };

/** Runtime dependencies and limits of the provider (not from config). */
export interface AzureTokenProviderOptions {
  readonly clock: Clock;
  /** Deadline of one getToken call, enforced with a timer because some paths ignore abortSignal. */
  readonly timeoutMs: number;
  /** Extra CA (PEM) to trust for the authority host, on top of Node's bundled roots. */
  readonly extraCaPem?: string;
  /**
   * Retries inside the SDK's HTTP pipeline per call (default 0): the token manager owns
   * retries and backoff, and SDK retries would only eat into `timeoutMs`.
   */
  readonly sdkMaxRetries?: number;
}

interface BuiltCredential {
  readonly className: string;
  readonly credential: TokenCredential;
}

type IdentityLibrary = typeof Identity;
const requireModule = createRequire(import.meta.url);

/**
 * @azure/identity, loaded on first use: with MSAL it adds noticeably to the daemon's RSS at start-up,
 * which a daemon whose credentials are all access keys would carry for nothing.
 */
function identityLibrary(): IdentityLibrary {
  return requireModule('@azure/identity') as IdentityLibrary;
}

function buildCredential(source: EntraSource, options: AzureTokenProviderOptions): BuiltCredential {
  const { AzureCliCredential, ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential, WorkloadIdentityCredential } = identityLibrary();
  const common = {
    retryOptions: { maxRetries: options.sdkMaxRetries ?? 0 },
    // `ca` replaces the default roots, so keep them and add ours.
    ...(options.extraCaPem !== undefined ? { tlsOptions: { ca: [...rootCertificates, options.extraCaPem] } } : {}),
  };
  switch (source.source) {
    case 'default':
      return {
        className: 'DefaultAzureCredential',
        credential: new DefaultAzureCredential({
          ...common,
          ...(source.clientId !== undefined
            ? { managedIdentityClientId: source.clientId, workloadIdentityClientId: source.clientId }
            : {}),
          ...(source.tenantId !== undefined ? { tenantId: source.tenantId } : {}),
          ...(source.authorityHost !== undefined ? { authorityHost: source.authorityHost } : {}),
          processTimeoutInMs: options.timeoutMs,
        }),
      };
    case 'workload-identity':
      return {
        className: 'WorkloadIdentityCredential',
        credential: new WorkloadIdentityCredential({
          ...common,
          ...(source.clientId !== undefined ? { clientId: source.clientId } : {}),
          ...(source.tenantId !== undefined ? { tenantId: source.tenantId } : {}),
          ...(source.tokenFilePath !== undefined ? { tokenFilePath: source.tokenFilePath } : {}),
          ...(source.authorityHost !== undefined ? { authorityHost: source.authorityHost } : {}),
          ...(source.disableInstanceDiscovery !== undefined ? { disableInstanceDiscovery: source.disableInstanceDiscovery } : {}),
        }),
      };
    case 'managed-identity':
      return {
        className: 'ManagedIdentityCredential',
        credential: new ManagedIdentityCredential({
          ...common,
          ...(source.clientId !== undefined ? { clientId: source.clientId } : {}),
        }),
      };
    case 'client-secret':
      return {
        className: 'ClientSecretCredential',
        credential: new ClientSecretCredential(source.tenantId, source.clientId, source.clientSecret, {
          ...common,
          ...(source.authorityHost !== undefined ? { authorityHost: source.authorityHost } : {}),
          ...(source.disableInstanceDiscovery !== undefined ? { disableInstanceDiscovery: source.disableInstanceDiscovery } : {}),
        }),
      };
    case 'azure-cli':
      return {
        className: 'AzureCliCredential',
        credential: new AzureCliCredential({
          ...(source.tenantId !== undefined ? { tenantId: source.tenantId } : {}),
          processTimeoutInMs: options.timeoutMs,
        }),
      };
  }
}

/**
 * Builds the provider. Throws a TokenRequestError (not retryable) when the credential cannot
 * even be constructed, e.g. workload identity without AZURE_CLIENT_ID.
 */
export function createAzureTokenProvider(source: EntraSource, options: AzureTokenProviderOptions): IdentityProvider {
  if (!(options.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${options.timeoutMs}`);
  const scope = source.scope ?? REDIS_SCOPE;
  let built: BuiltCredential;
  try {
    built = buildCredential(source, options);
  } catch (error) {
    throw describeConstructionError(credentialClassName(source), error);
  }
  const { className, credential } = built;

  async function getToken(signal: AbortSignal): Promise<AccessTokenResult> {
    let token;
    try {
      token = await credential.getToken(scope, { abortSignal: signal });
    } catch (error) {
      throw describeAzureError(className, error);
    }
    if (token === null || typeof token.token !== 'string' || token.token === '') {
      throw new TokenRequestError(`${className}: the token endpoint returned no token`, {
        kind: 'invalid_response',
        isRetryable: true,
      });
    }
    if (typeof token.expiresOnTimestamp !== 'number' || !Number.isFinite(token.expiresOnTimestamp)) {
      throw new TokenRequestError(`${className}: the token endpoint returned a token without an expiry`, {
        kind: 'invalid_response',
        isRetryable: true,
      });
    }
    return {
      token: token.token,
      expiresAtMs: token.expiresOnTimestamp,
      ...(typeof token.refreshAfterTimestamp === 'number' && Number.isFinite(token.refreshAfterTimestamp)
        ? { refreshAfterMs: token.refreshAfterTimestamp }
        : {}),
    };
  }

  return {
    requestToken(requestOptions?: TokenRequestOptions) {
      return requestWithTimeout(
        options.clock,
        options.timeoutMs,
        getToken,
        () =>
          new TokenRequestError(`${className}: token request timed out after ${options.timeoutMs} ms`, {
            kind: 'timeout',
            isRetryable: true,
          }),
        requestOptions?.abortSignal,
      );
    },
  };
}

function credentialClassName(source: EntraSource): string {
  const names: Record<EntraSource['source'], string> = {
    default: 'DefaultAzureCredential',
    'workload-identity': 'WorkloadIdentityCredential',
    'managed-identity': 'ManagedIdentityCredential',
    'client-secret': 'ClientSecretCredential',
    'azure-cli': 'AzureCliCredential',
  };
  return names[source.source];
}

// ---- Error sanitising -------------------------------------------------------------------
// @azure/identity messages quote response bodies (which can echo tokens) and sometimes
// secrets' surroundings, so a message is rebuilt from facts that cannot carry them:
// class names, HTTP status, identifier-shaped error codes, numeric AADSTS codes.

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SYSTEM_CODE = /^[A-Z][A-Z0-9_]{1,47}$/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** OAuth / MSAL codes that mean "this request will not succeed as configured". */
const REJECTED_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_resource',
  'access_denied',
  'consent_required',
  'interaction_required',
  'login_required',
]);
/** Codes that mean "the service failed, try later". */
const TRANSIENT_CODES = new Set(['temporarily_unavailable', 'server_error', 'ServiceUnavailable', 'TooManyRequests']);
const NETWORK_ERROR_CODES = new Set(['network_error', 'endpoints_resolution_error', 'network_request_failed']);
const KNOWN_CODES = new Set([...REJECTED_CODES, ...TRANSIENT_CODES, ...NETWORK_ERROR_CODES]);
/** Error classes whose message has the MSAL shape `<errorCode>: Error(s): <numbers> - ...`. */
const MSAL_MESSAGE_CLASSES = new Set(['AuthenticationRequiredError', 'AuthError', 'ServerError', 'ClientAuthError']);

interface ErrorFacts {
  readonly names: string[];
  httpStatus?: number;
  readonly codes: string[];
  readonly aadsts: string[];
}

function gatherFacts(error: unknown): ErrorFacts {
  const facts: ErrorFacts = { names: [], codes: [], aadsts: [] };
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  const addCode = (code: string): void => {
    if (!facts.codes.includes(code)) facts.codes.push(code);
  };
  // Bounded walk over cause chains and AggregateAuthenticationError.errors.
  while (queue.length > 0 && seen.size < 16) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const record = current as Record<string, unknown>;
    const name = record['name'];
    if (typeof name === 'string' && IDENTIFIER.test(name) && !facts.names.includes(name)) facts.names.push(name);
    for (const key of ['statusCode', 'status']) {
      const status = record[key];
      if (facts.httpStatus === undefined && typeof status === 'number' && status >= 100 && status <= 599) {
        facts.httpStatus = status;
      }
    }
    const errorCode = record['errorCode'];
    if (typeof errorCode === 'string' && IDENTIFIER.test(errorCode)) addCode(errorCode);
    const code = record['code'];
    if (typeof code === 'string' && SYSTEM_CODE.test(code)) addCode(code);
    const errorResponse = record['errorResponse'];
    if (typeof errorResponse === 'object' && errorResponse !== null) {
      const oauthError = (errorResponse as Record<string, unknown>)['error'];
      if (typeof oauthError === 'string' && IDENTIFIER.test(oauthError) && oauthError !== 'unknown') addCode(oauthError);
      const errorCodes = (errorResponse as Record<string, unknown>)['errorCodes'];
      if (Array.isArray(errorCodes)) {
        for (const n of errorCodes) if (typeof n === 'number' && Number.isInteger(n)) facts.aadsts.push(String(n));
      }
    }
    const message = record['message'];
    if (typeof message === 'string') {
      // Only an identifier before the first colon and digit lists are taken, never free text.
      const msalShaped = typeof name === 'string' && MSAL_MESSAGE_CLASSES.has(name);
      const prefix = /^([A-Za-z][A-Za-z0-9_]{0,63}): /.exec(message)?.[1];
      if (prefix !== undefined && (msalShaped || KNOWN_CODES.has(prefix))) addCode(prefix);
      if (msalShaped) {
        // "<code>: Error(s): 700016 - ..." from the server, "500011: ..." from msal's throttle cache.
        const numbers = /Error\(s\): ([0-9][0-9, ]{0,60}) -/.exec(message)?.[1] ?? /^([0-9]{1,9}(?: [0-9]{1,9}){0,5}): /.exec(message)?.[1];
        for (const n of numbers?.split(/[ ,]+/) ?? []) if (/^[0-9]{1,9}$/.test(n)) facts.aadsts.push(n);
      }
    }
    queue.push(record['cause']);
    const nested = record['errors'];
    if (Array.isArray(nested)) queue.push(...nested.slice(0, 8));
  }
  return facts;
}

interface Classification {
  readonly kind: TokenFailureKind;
  readonly isRetryable: boolean;
}

function classify(facts: ErrorFacts): Classification {
  const has = (set: ReadonlySet<string>): boolean => facts.codes.some((code) => set.has(code));
  if (facts.names.includes('AbortError')) return { kind: 'aborted', isRetryable: true };
  if (has(NETWORK_CODES) || has(NETWORK_ERROR_CODES)) return { kind: 'network', isRetryable: true };
  const status = facts.httpStatus;
  if (status !== undefined) {
    if (status === 408 || status === 429 || status >= 500 || status === 404 || status === 410) {
      // 404/410: IMDS answers these while an identity is still being assigned.
      return { kind: 'http', isRetryable: true };
    }
    if (status >= 400) return { kind: 'rejected', isRetryable: false };
  }
  if (has(TRANSIENT_CODES)) return { kind: 'http', isRetryable: true };
  if (has(REJECTED_CODES)) return { kind: 'rejected', isRetryable: false };
  if (facts.names.includes('SyntaxError')) return { kind: 'invalid_response', isRetryable: true };
  if (facts.names.includes('CredentialUnavailableError') || facts.names.includes('AggregateAuthenticationError')) {
    return { kind: 'unavailable', isRetryable: false };
  }
  return { kind: 'unknown', isRetryable: true };
}

const DESCRIPTIONS: Record<TokenFailureKind, string> = {
  timeout: 'token request timed out',
  network: 'could not reach the token endpoint',
  http: 'the token endpoint failed',
  rejected: 'the token request was rejected (check tenant id, client id, and the secret or federated credential)',
  invalid_response: 'the token endpoint sent an unreadable response',
  unavailable: 'credential unavailable in this environment (check the source settings and the environment variables it reads)',
  no_principal: 'the token names no principal',
  aborted: 'token request aborted',
  unknown: 'token request failed',
};

function detailText(facts: ErrorFacts): string {
  const details: string[] = [];
  if (facts.httpStatus !== undefined) details.push(`HTTP ${facts.httpStatus}`);
  details.push(...facts.codes.slice(0, 4));
  details.push(...[...new Set(facts.aadsts)].slice(0, 4).map((n) => `AADSTS${n}`));
  if (facts.names.length > 0) details.push(facts.names.slice(0, 4).join(' <- '));
  return details.length > 0 ? ` [${details.join(', ')}]` : '';
}

/** Reduces any @azure/identity failure to a TokenRequestError without token or secret text. */
export function describeAzureError(className: string, error: unknown): TokenRequestError {
  if (error instanceof TokenRequestError) return error;
  const facts = gatherFacts(error);
  const { kind, isRetryable } = classify(facts);
  return new TokenRequestError(`${className}: ${DESCRIPTIONS[kind]}${detailText(facts)}`, {
    kind,
    isRetryable,
    ...(facts.httpStatus !== undefined ? { httpStatus: facts.httpStatus } : {}),
  });
}

/** Setting and environment variable names a constructor message may mention: safe to repeat. */
const SETTING_HINTS = [
  'clientId',
  'tenantId',
  'clientSecret',
  'federatedTokenFilePath',
  'tokenFilePath',
  'authorityHost',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_AUTHORITY_HOST',
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'MSI_ENDPOINT',
];

function describeConstructionError(className: string, error: unknown): TokenRequestError {
  const facts = gatherFacts(error);
  const message = error instanceof Error ? error.message : '';
  const mentioned = SETTING_HINTS.filter((hint) => new RegExp(`\\b${hint}\\b`).test(message));
  const hint = mentioned.length > 0 ? `: check ${mentioned.join(', ')}` : '';
  return new TokenRequestError(`${className} could not be created${hint}${detailText(facts)}`, {
    kind: 'unavailable',
    isRetryable: false,
  });
}
