/** Credentials as a connection sees them: access keys and Entra tokens look the same. */

export interface RedisAuth {
  /** ACL user; absent means the `default` user (legacy AUTH password). */
  readonly username?: string;
  readonly password: string;
}

export interface Credential {
  readonly name: string;
  /** The secret to AUTH with now; throws a CredentialUnavailableError while none is usable. */
  current(): RedisAuth;
  /** Called with every new secret (token rotation); returns an unsubscribe function. */
  onChange(listener: (auth: RedisAuth) => void): () => void;
  /** Resolves once a first secret is available or has failed (never rejects). */
  ready(): Promise<void>;
  close(): void;
}

/** No secret is usable right now (e.g. no Entra token yet): cycles fail with reason `token`. */
export class CredentialUnavailableError extends Error {
  override readonly name = 'CredentialUnavailableError';
}

/** An access key: fixed for the life of the config (a reload brings a new one). */
export function staticCredential(name: string, auth: RedisAuth): Credential {
  return {
    name,
    current: () => auth,
    onChange: () => () => undefined,
    ready: () => Promise.resolve(),
    close: () => undefined,
  };
}
