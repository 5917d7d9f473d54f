import assert from 'node:assert/strict';
import { runCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';

/** One layer of `doctor --format json`. */
export interface JsonLayer {
  readonly layer: string;
  readonly status: string;
  readonly ms: number | null;
  readonly detail: string;
  readonly hint: string | null;
}

export interface JsonTarget {
  readonly target: string;
  readonly ok: boolean;
  readonly failed_layer: string | null;
  readonly layers: readonly JsonLayer[];
}

/** A doctor run through the built CLI, its JSON parsed, every output checked for the given secrets. */
export interface DoctorRun extends CliRun {
  readonly targets: readonly JsonTarget[];
  layer(name: string, target?: number): JsonLayer;
}

export async function runDoctorJson(args: readonly string[], secrets: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<DoctorRun> {
  const run = await runCli(['doctor', ...args, '--format', 'json'], { env, timeoutMs: 60_000 });
  assertNoSecrets(run, secrets);
  let targets: JsonTarget[] = [];
  if (run.stdout.trim() !== '') targets = (JSON.parse(run.stdout) as { targets: JsonTarget[] }).targets;
  return {
    ...run,
    targets,
    layer(name, target = 0) {
      const found = targets[target]?.layers.find((layer) => layer.layer === name);
      assert.ok(found, `layer ${name} in ${run.stdout}${run.stderr}`);
      return found;
    },
  };
}

export function assertNoSecrets(run: CliRun, secrets: readonly string[]): void {
  for (const secret of secrets) {
    assert.ok(!run.stdout.includes(secret), `stdout leaks a secret:\n${run.stdout}`);
    assert.ok(!run.stderr.includes(secret), `stderr leaks a secret:\n${run.stderr}`);
  }
}

/** Asserts the run failed at `layer` (exit 1), every layer before it passed, every layer after it was skipped. */
export function assertFailedAt(run: DoctorRun, layer: string): JsonLayer {
  assert.equal(run.code, 1, `exit code\n${run.stdout}${run.stderr}`);
  const [target] = run.targets;
  assert.ok(target);
  assert.equal(target.ok, false);
  assert.equal(target.failed_layer, layer);
  const index = target.layers.findIndex((entry) => entry.layer === layer);
  for (const [position, entry] of target.layers.entries()) {
    if (position < index) assert.ok(['ok', 'skipped', 'unsupported'].includes(entry.status), `${entry.layer} before ${layer}: ${entry.status}`);
    if (position > index) assert.equal(entry.status, 'skipped', `${entry.layer} after ${layer}`);
  }
  const failed = target.layers[index];
  assert.ok(failed?.hint, 'the failed layer has a hint');
  return failed;
}
