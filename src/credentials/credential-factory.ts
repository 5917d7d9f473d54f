import type { Clock } from '../shared/clock.ts';
import type { CredentialConfig } from '../config/types.ts';
import { ConfigError } from '../config/config-error.ts';
import { staticCredential } from './credential.ts';
import type { Credential } from './credential.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { createEntraCredential } from './entra-credential.ts';
import type { TokenObserver } from './token-manager.ts';
import { errorMessage } from '../shared/error-text.ts';

/** What building credentials needs from the composition root. */
export interface CredentialFactoryDeps {
  readonly redactor: SecretRedactor;
  readonly clock: Clock;
  /** Uniform in [0, 1): token retry jitter. */
  readonly random: () => number;
  /** Metrics and logs of one Entra credential's token manager. */
  readonly tokenObserver: (credential: string) => TokenObserver;
}

/** Builds the Credential behind each `credentials[]` entry: access keys and Entra ID look the same afterwards. */
export function createCredential(config: CredentialConfig, deps: CredentialFactoryDeps): Credential {
  switch (config.type) {
    case 'access-key':
      deps.redactor.add(config.password);
      return staticCredential(config.name, {
        ...(config.username !== undefined ? { username: config.username } : {}),
        password: config.password,
      });
    case 'entra':
      if (config.clientSecret !== undefined) deps.redactor.add(config.clientSecret);
      try {
        return createEntraCredential(config, { ...deps, observer: deps.tokenObserver(config.name) });
      } catch (error) {
        // E.g. workload identity without AZURE_CLIENT_ID: a setup problem, reported like a bad config.
        throw new ConfigError([`credentials "${config.name}": ${errorMessage(error)}`]);
      }
  }
}
