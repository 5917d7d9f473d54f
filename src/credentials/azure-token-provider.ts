/**
 * The production IdentityProvider: one @azure/identity credential per configured source,
 * with the daemon's own deadline on every call and errors reduced to safe descriptions.
 */
import { createRequire } from 'node:module';
import { rootCertificates } from 'node:tls';
import type * as Identity from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import type { Clock } from '../shared/clock.ts';
import { ENTRA_REDIS_SCOPE } from '../config/resolve-config.ts';
import { describeAzureError, describeConstructionError } from './azure-error.ts';
import { TokenRequestError, checkTokenAnswer, requestWithTimeout } from './token-request.ts';
import type { AccessTokenResult, IdentityProvider, TokenRequestOptions } from './token-request.ts';

export type { AccessTokenResult, IdentityProvider } from './token-request.ts';

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
          ...(source.clientId !== undefined ? { managedIdentityClientId: source.clientId, workloadIdentityClientId: source.clientId } : {}),
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
  const scope = source.scope ?? ENTRA_REDIS_SCOPE;
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
    // Checked here too, not only by the token manager: `redis-probe sla` uses this provider on its own.
    const answer = token && { token: token.token, expiresAtMs: token.expiresOnTimestamp, refreshAfterMs: token.refreshAfterTimestamp };
    return checkTokenAnswer(answer, `${className}: the token endpoint`);
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
