/** Credentials as a connection sees them: access keys and Entra tokens look the same. */
import type { Clock } from '../shared/clock.ts';
import { settlesWithin } from '../shared/timeout.ts';

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
  /**
   * For secrets fetched at run time: a cycle found none usable, so get one now (starting a fetch or joining the
   * one in flight). Resolves when that attempt ends, whatever its outcome; never rejects.
   */
  demand?(): Promise<void>;
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

/**
 * The secret to AUTH with. When none is usable, demands one and waits up to `timeoutMs` for it: without a
 * usable secret the target is down anyway, and this way the first cycle after the secret's source comes
 * back is green. Throws a CredentialUnavailableError (reason `token`) when there is still none.
 */
export async function usableAuth(credential: Credential, clock: Clock, timeoutMs: number): Promise<RedisAuth> {
  try {
    return credential.current();
  } catch (error) {
    if (!(error instanceof CredentialUnavailableError) || credential.demand === undefined) throw error;
  }
  // A wait that runs out is reported by current() below, as the missing secret it is, not as a timeout.
  await settlesWithin(credential.demand(), timeoutMs, clock);
  return credential.current();
}
