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
  // Longest first: when one secret is a prefix or part of another, redacting the shorter first would
  // leave the rest of the longer one in the text.
  let secrets: string[] = [];
  return {
    add(secret) {
      if (secret.length < MIN_SECRET_LENGTH || secrets.includes(secret)) return;
      secrets = [...secrets, secret].sort((a, b) => b.length - a.length);
    },
    remove(secret) {
      secrets = secrets.filter((known) => known !== secret);
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
