/**
 * The memory settings the daemon runs with however it is started (the `redis-probe` bin, `npm start`,
 * the image's ENTRYPOINT), and the node command line that applies them. The only copy of these
 * settings: the Dockerfile runs the bin, and the benchmark imports them from here.
 */

/**
 * V8 flags. 4 MB semi-spaces keep the young generation small instead of tens of MB; the daemon's
 * garbage (CLIENT LIST replies, /metrics text) is short-lived, so letting the old generation grow
 * by 20 % between full collections, instead of the factor V8 works out from GC speed (often about
 * twice the live data), keeps RSS near what is live. Both are read when the heap is set up, and
 * NODE_OPTIONS does not accept --heap-growing-percent, so they go on node's command line.
 */
export const MEMORY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=20'];

/** Two glibc malloc arenas instead of one per thread. glibc reads this when a process starts. */
export const MEMORY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** How to start node: its arguments (after the executable) and its environment. */
export interface LaunchCommand {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** `--max_semi_space_size=8` and `--max-semi-space-size` name the same V8 flag. */
function flagName(arg: string): string {
  const end = arg.indexOf('=');
  return (end === -1 ? arg : arg.slice(0, end)).replaceAll('_', '-');
}

/**
 * node's arguments and environment to run `script` with `args` and the memory settings. The
 * caller's own node arguments come first; a setting the user already gave (on node's command line,
 * in NODE_OPTIONS, or in the environment) is left as the user gave it.
 */
export function launchCommand(script: string, args: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): LaunchCommand {
  const given = new Set([...execArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/)].filter((arg) => arg.startsWith('--')).map(flagName));
  const flags = MEMORY_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
  const missingEnv = Object.entries(MEMORY_ENV).filter(([name]) => env[name] === undefined);
  return { args: [...execArgv, ...flags, script, ...args], env: { ...env, ...Object.fromEntries(missingEnv) } };
}
