import { registerHooks } from 'node:module';

/**
 * Experiments measure a proposed change to a file this benchmark does not own, without touching it:
 * the phase process resolves `src/<file>` to `bench/proposed/<file>` instead. Harness-level
 * experiments (no file swap) are read by the harness itself.
 */
const FILE_SWAPS: Readonly<Record<string, string>> = {
  /** bench/proposed/client-list.ts: indexOf for the three fields used instead of a Map per line. */
  'fast-client-list': 'client-list.ts',
};

/** Harness-only: the teed logger drops calls below the configured level before winston formats them. */
export const SKIP_DISABLED_LOGS = 'skip-disabled-logs';

export const EXPERIMENTS = [...Object.keys(FILE_SWAPS), SKIP_DISABLED_LOGS] as const;

/** Must run before anything imports src/: resolution is swapped for modules loaded afterwards. */
export function applyExperiments(names: readonly string[]): void {
  const swaps = names.flatMap((name) => {
    const file = FILE_SWAPS[name];
    return file ? [[`/src/${file}`, new URL(`./proposed/${file}`, import.meta.url).href] as const] : [];
  });
  if (swaps.length === 0) return;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      for (const [suffix, replacement] of swaps) if (resolved.url.endsWith(suffix)) return { ...resolved, url: replacement };
      return resolved;
    },
  });
}
