/** Runs the real `promtool` (Debian package `prometheus`); fails loudly when it is missing. */
import { spawnSync } from 'node:child_process';

export interface PromtoolResult {
  readonly status: number | null;
  readonly output: string;
}

/** The promtool binary: $PROMTOOL, else `promtool` on PATH. Throws a clear error when absent. */
export function promtoolBinary(): string {
  const binary = process.env['PROMTOOL'] ?? 'promtool';
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `promtool not found (tried ${JSON.stringify(binary)}): install it with ` + '`apt-get install -y prometheus` or point $PROMTOOL at a promtool binary',
    );
  }
  return binary;
}

export function runPromtool(args: readonly string[], cwd?: string): PromtoolResult {
  const result = spawnSync(promtoolBinary(), args, { encoding: 'utf8', cwd, timeout: 120_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
