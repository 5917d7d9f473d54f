/** Defence in depth: every known secret is scrubbed from text before it reaches a log or an error. */
export interface SecretRedactor {
  /** Remembers a secret (a password, a token); short values are ignored to avoid mangling text. */
  add(secret: string): void;
  remove(secret: string): void;
  redact(text: string): string;
}

const MIN_SECRET_LENGTH = 4;
export const REDACTED = '[REDACTED]';

export function createSecretRedactor(): SecretRedactor {
  const secrets = new Set<string>();
  return {
    add(secret) {
      if (secret.length >= MIN_SECRET_LENGTH) secrets.add(secret);
    },
    remove(secret) {
      secrets.delete(secret);
    },
    redact(text) {
      let result = text;
      for (const secret of secrets) {
        if (result.includes(secret)) result = result.split(secret).join(REDACTED);
      }
      return result;
    },
  };
}
