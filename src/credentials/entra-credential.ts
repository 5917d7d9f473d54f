import type { Clock } from '../shared/clock.ts';
import type { EntraCredentialConfig } from '../config/types.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { createAzureTokenProvider } from './azure-token-provider.ts';
import type { EntraSource } from './azure-token-provider.ts';
import { createTokenManager } from './token-manager.ts';
import type { TokenManager, TokenObserver } from './token-manager.ts';

/** What an Entra credential needs besides its config. */
export interface EntraCredentialDeps {
  readonly clock: Clock;
  readonly random: () => number;
  readonly redactor: SecretRedactor;
  readonly observer?: TokenObserver;
}

/** The provider's own deadline sits just inside the manager's, so the provider's error names the cause. */
const PROVIDER_DEADLINE_SHARE = 0.9;
/** Tokens scrubbed from logs: the current one and the one it replaced (still in flight on some connections). */
const REDACTED_TOKENS_KEPT = 2;

/** Maps the YAML settings to the @azure/identity credential they name. */
export function entraSource(config: EntraCredentialConfig): EntraSource {
  const scope = config.scope;
  const authority = {
    ...(config.authorityHost !== undefined ? { authorityHost: config.authorityHost } : {}),
  };
  const discovery = config.disableInstanceDiscovery !== undefined ? { disableInstanceDiscovery: config.disableInstanceDiscovery } : {};
  const tenant = config.tenantId !== undefined ? { tenantId: config.tenantId } : {};
  const client = config.clientId !== undefined ? { clientId: config.clientId } : {};
  switch (config.source) {
    case 'default':
      return { source: 'default', scope, ...client, ...tenant, ...authority };
    case 'workload-identity':
      return { source: 'workload-identity', scope, ...client, ...tenant, ...authority, ...discovery };
    case 'managed-identity':
      return { source: 'managed-identity', scope, ...client };
    case 'client-secret':
      // The config resolver guarantees all three for client-secret.
      return {
        source: 'client-secret',
        scope,
        tenantId: config.tenantId ?? '',
        clientId: config.clientId ?? '',
        clientSecret: config.clientSecret ?? '',
        ...authority,
        ...discovery,
      };
    case 'azure-cli':
      return { source: 'azure-cli', scope, ...tenant };
  }
}

/** A started token manager for one `type: entra` credential, its tokens scrubbed from every log line. */
export function createEntraCredential(config: EntraCredentialConfig, deps: EntraCredentialDeps): TokenManager {
  const provider = createAzureTokenProvider(entraSource(config), {
    clock: deps.clock,
    timeoutMs: Math.max(1, Math.floor(config.requestTimeoutMs * PROVIDER_DEADLINE_SHARE)),
    ...(config.authorityCaPem !== undefined ? { extraCaPem: config.authorityCaPem } : {}),
  });
  const manager = createTokenManager({
    name: config.name,
    provider,
    clock: deps.clock,
    random: deps.random,
    refreshBeforeExpiryMs: config.refreshBeforeExpiryMs,
    requestTimeoutMs: config.requestTimeoutMs,
    backoff: { initialMs: config.retryInitialDelayMs, maxMs: config.retryMaxDelayMs, multiplier: 2, jitter: 0.2 },
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
  });
  const redactedTokens: string[] = [];
  manager.onChange(({ password }) => {
    deps.redactor.add(password);
    redactedTokens.push(password);
    while (redactedTokens.length > REDACTED_TOKENS_KEPT) deps.redactor.remove(redactedTokens.shift() as string);
  });
  manager.start();
  return manager;
}
