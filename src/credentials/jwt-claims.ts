/** Reads the few JWT claims the daemon needs, without verifying the signature (Redis verifies it). */

/** The claims redis-probe uses from an Entra access token. */
export interface TokenClaims {
  /** Object id of the principal: the Redis ACL username for Entra auth. */
  readonly oid?: string;
  /** `exp` in epoch milliseconds. */
  readonly expiresAtMs?: number;
  /** `iat` in epoch milliseconds. */
  readonly issuedAtMs?: number;
}

/** The token is not a readable JWT. Messages describe the shape only, never the token text. */
export class TokenClaimsError extends Error {
  override readonly name = 'TokenClaimsError';
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes the payload of a JWS compact token (`header.payload.signature`). */
export function readTokenClaims(token: string): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new TokenClaimsError(`token is not a JWT: expected 3 dot-separated parts, found ${parts.length}`);
  }
  const payloadPart = parts[1] ?? '';
  // Buffer's base64url decoder skips invalid characters silently, so check the alphabet first.
  if (!BASE64URL.test(payloadPart)) {
    throw new TokenClaimsError('token is not a JWT: the payload is not base64url');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    // JSON.parse messages quote the input, which is part of the token: drop them.
    throw new TokenClaimsError('token is not a JWT: the payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new TokenClaimsError('token is not a JWT: the payload is not a JSON object');
  }
  const claims = payload as Record<string, unknown>;
  return {
    ...(typeof claims['oid'] === 'string' && claims['oid'] !== '' ? { oid: claims['oid'] } : {}),
    ...(isEpochSeconds(claims['exp']) ? { expiresAtMs: claims['exp'] * 1000 } : {}),
    ...(isEpochSeconds(claims['iat']) ? { issuedAtMs: claims['iat'] * 1000 } : {}),
  };
}

function isEpochSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}
