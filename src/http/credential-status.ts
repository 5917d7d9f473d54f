import type { TokenObserver } from '../credentials/token-manager.ts';

/** A credential as the status page shows it: its kind, its token's state and expiry, never the token. */
export interface CredentialStatusView {
  readonly name: string;
  readonly type: 'access-key' | 'entra';
  /** `static` for an access key; for a token: `pending` (none yet), `valid`, `retrying` (refresh failing, token still valid), `failing` (no usable token), `expired`. */
  readonly tokenState: 'static' | 'pending' | 'valid' | 'retrying' | 'failing' | 'expired';
  readonly expiresAt: string | null;
  /** The kind of the last failed token request (e.g. `network`, `auth`), while refreshes fail. */
  readonly lastErrorKind: string | null;
}

interface TokenState {
  tokenState: CredentialStatusView['tokenState'];
  expiresAtMs?: number;
  lastErrorKind?: string;
}

/** Follows each Entra credential's token events for the status page. */
export interface CredentialStatus {
  /** Wraps a credential's observer so its events also update the page. */
  observe(name: string, inner: TokenObserver): TokenObserver;
  snapshot(credentials: readonly { readonly name: string; readonly type: 'access-key' | 'entra' }[]): CredentialStatusView[];
}

export function createCredentialStatus(): CredentialStatus {
  const states = new Map<string, TokenState>();
  return {
    observe(name, inner) {
      // A credential recreated by a reload starts again from `pending`.
      const state: TokenState = { tokenState: 'pending' };
      states.set(name, state);
      return {
        onTokenAcquired(event) {
          state.tokenState = 'valid';
          state.expiresAtMs = event.expiresAtMs;
          delete state.lastErrorKind;
          inner.onTokenAcquired?.(event);
        },
        onRefreshFailed(event) {
          state.tokenState = event.tokenStillValid ? 'retrying' : 'failing';
          state.lastErrorKind = event.error.kind;
          inner.onRefreshFailed?.(event);
        },
        onTokenExpired(event) {
          state.tokenState = 'expired';
          inner.onTokenExpired?.(event);
        },
        onListenerError(event) {
          inner.onListenerError?.(event);
        },
      };
    },
    snapshot(credentials) {
      return credentials.map(({ name, type }) => {
        const state = type === 'entra' ? (states.get(name) ?? { tokenState: 'pending' as const }) : { tokenState: 'static' as const };
        return {
          name,
          type,
          tokenState: state.tokenState,
          expiresAt: 'expiresAtMs' in state ? new Date(state.expiresAtMs).toISOString() : null,
          lastErrorKind: 'lastErrorKind' in state ? state.lastErrorKind : null,
        };
      });
    },
  };
}
