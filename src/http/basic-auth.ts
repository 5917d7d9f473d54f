import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** Checks `Authorization: Basic` headers against the web config's bcrypt hashes. */
export interface BasicAuth {
  /** Resolves true when the header names a configured user with the right password. */
  verify(authorization: string | undefined): Promise<boolean>;
}

/** Successful verifications remembered: Prometheus re-sends the same credentials every scrape. */
const CACHE_SIZE = 64;
/** bcrypt is slow by design: wrong guesses beyond this many waiting are refused without hashing. */
const MAX_PENDING = 16;
/** Compared against for an unknown user, so its answer takes as long as a known one's (cost 10, like htpasswd's). */
const DUMMY_HASH = '$2b$10$2Td83T4goLmPoy0lPrXZP.xXc54UeA.QK8.8TdEZ9t4pheb6ArFbW';

export function createBasicAuth(users: ReadonlyMap<string, string>): BasicAuth {
  // The key is a digest of user, hash and password, never the password itself, kept only for right answers.
  const verified = new Set<string>();
  const pending = new Map<string, Promise<boolean>>();
  const check = async (user: string, password: string, key: string): Promise<boolean> => {
    const hash = users.get(user);
    // bcryptjs compares the computed hash with the stored one in constant time.
    const ok = await bcrypt.compare(password, hash ?? DUMMY_HASH);
    if (!ok || hash === undefined) return false;
    if (verified.size >= CACHE_SIZE) verified.clear();
    verified.add(key);
    return true;
  };
  return {
    async verify(authorization) {
      const credentials = parseBasic(authorization);
      if (!credentials) return false;
      const { user, password } = credentials;
      const key = createHash('sha256')
        .update(`${user}\0${users.get(user) ?? ''}\0${password}`)
        .digest('base64');
      if (verified.has(key)) return true;
      // The same credentials arriving together (a scrape and a page load) share one bcrypt run.
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      if (pending.size >= MAX_PENDING) return false;
      const run = check(user, password, key).finally(() => pending.delete(key));
      pending.set(key, run);
      return run;
    },
  };
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
