import type { CredentialConfig } from './config/types.ts';
import { staticCredential } from './credentials.ts';
import type { Credential } from './credentials.ts';
import type { SecretRedactor } from './secrets.ts';

/** Builds the Credential behind each `credentials[]` entry; Entra ID is plugged in by the caller. */
export interface CredentialFactoryDeps {
  readonly redactor: SecretRedactor;
  readonly createEntraCredential: (config: Extract<CredentialConfig, { type: 'entra' }>) => Credential;
}

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
      return deps.createEntraCredential(config);
  }
}
