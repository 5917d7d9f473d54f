/** A config that cannot run; `issues` lists every problem as `path: message`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.issues = issues;
  }
}

/**
 * The HTTP listener's failure as a ConfigError when `server` is what is wrong (the port is taken, the host
 * is not this machine's), so that `run` exits with the configuration code; any other error is returned as is.
 */
export function listenError(server: { readonly host: string; readonly port: number }, error: unknown): unknown {
  const { code } = (error ?? {}) as { code?: unknown };
  const issue = {
    EADDRINUSE: `server.port: ${server.port} on ${server.host} is already in use; stop the process that holds it or choose another port`,
    EACCES: `server.port: listening on ${server.port} is not permitted; use a port above 1023`,
    EADDRNOTAVAIL: `server.host: ${server.host} is not an address of this machine; listen on 0.0.0.0, :: or one of its own addresses`,
    ENOTFOUND: `server.host: ${server.host} does not resolve; listen on an IP address (0.0.0.0, ::) or a name this machine resolves`,
    EAI_AGAIN: `server.host: ${server.host} could not be resolved; listen on an IP address (0.0.0.0, ::) instead of a name`,
  }[String(code)];
  return issue === undefined ? error : new ConfigError([issue]);
}
