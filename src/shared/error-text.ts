/** Error → text, one way for the whole code: thrown values are `unknown`, and not every one is an Error. */

/**
 * `Name: message (CODE)`: the class, the message, and a system error's code when the message does not
 * already name it. For logs and failure messages; callers redact it, as any text that may quote a secret.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return `${error.name}: ${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}`;
  }
  return String(error);
}

/** The message alone, for text whose own words already say what failed. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
