import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AZURE_MANAGED_PROMETHEUS_LIMITS } from '../../src/config/label-limits.ts';
import { isK8sObject, loadYamlDocs, validateObject } from './manifests.ts';
import { AZURE_OVERLAY_DIR } from './paths.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect, runCli, spawnCli } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';

describe('Azure managed Prometheus label limits', { timeout: 60_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-limits-'));
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the PodMonitor sets the service limits that config validation checks against, and stays schema-valid', () => {
    const [podMonitor] = loadYamlDocs(join(AZURE_OVERLAY_DIR, 'podmonitor.yaml')).filter(isK8sObject);
    assert.ok(podMonitor);
    validateObject(podMonitor);
    const spec = podMonitor['spec'] as Record<string, unknown>;
    assert.deepEqual(
      { labelLimit: spec['labelLimit'], labelNameLengthLimit: spec['labelNameLengthLimit'], labelValueLengthLimit: spec['labelValueLengthLimit'] },
      { labelLimit: 63, labelNameLengthLimit: 511, labelValueLengthLimit: 1023 },
    );
    assert.deepEqual({ ...AZURE_MANAGED_PROMETHEUS_LIMITS }, { labelLimit: 63, labelNameLengthLimit: 511, labelValueLengthLimit: 1023 });
  });

  const config = async (name: string, targets: string, httpPort = 9637): Promise<string> => {
    const path = join(dir, name);
    await writeFile(
      path,
      `server: { host: 127.0.0.1, port: ${httpPort} }\nlocation: westeurope\ndefaults: { schedule: "* * * * * *", timeout: 500ms, tls: { enabled: false } }\ntargets:\n${targets}`,
    );
    return path;
  };
  const target = (name: string, labels: Record<string, string>) =>
    `  - name: ${name}\n    host: 127.0.0.1\n    port: ${redis.port}\n    labels: ${JSON.stringify(labels)}\n`;
  const names = (count: number, prefix: string) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'x']));

  it('validate stays quiet within the limits and warns, exit 0, past each of them', async () => {
    // 5 on target_info + location + 6 added at scrape = 12: 51 distinct names reach 63 exactly.
    const within = await runCli(['validate', '--config', await config('within.yaml', target('a', names(26, 'a')) + target('b', names(25, 'b')))]);
    assert.equal(within.code, 0, within.stderr);
    assert.doesNotMatch(within.stdout, /warning/);

    const over = await runCli(['validate', '--config', await config('over.yaml', target('a', names(26, 'a')) + target('b', names(26, 'b')))]);
    assert.equal(over.code, 0, over.stderr);
    assert.match(over.stdout, /^configuration is valid/);
    assert.match(
      over.stdout,
      / {2}- targets\[\*\]\.labels: redis_probe_target_info would carry 64 labels \(52 distinct target label names .*over Azure managed Prometheus's labelLimit of 63; .*Use at most 51 distinct label names/,
    );

    const long = await runCli(['validate', '--config', await config('long.yaml', target('a', { [`n${'x'.repeat(511)}`]: 'ok', team: 'v'.repeat(1024) }))]);
    assert.equal(long.code, 0, long.stderr);
    assert.match(
      long.stdout,
      / {2}- targets\[0\]\.labels: the label name "nx+…" is 512 characters, over Azure managed Prometheus's labelNameLengthLimit of 511; shorten it/,
    );
    assert.match(
      long.stdout,
      / {2}- targets\[0\]\.labels\.team: the value is 1024 characters, over Azure managed Prometheus's labelValueLengthLimit of 1023; shorten it/,
    );
  });

  it('run logs the warning and starts anyway', async () => {
    const httpPort = await freePort();
    const daemon = spawnCli(['run', '--config', await config('run.yaml', target('a', { team: 'v'.repeat(1024) }), httpPort)]);
    const exited = collect(daemon, 30_000);
    let stdout = '';
    daemon.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(() => stdout.includes('redis-probe started'), { timeoutMs: 15_000, message: 'the start-up line' });
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    const warning = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['message'] === 'configuration warning');
    assert.equal(warning?.['level'], 'warn');
    assert.match(String(warning?.['warning']), /^targets\[0\]\.labels\.team: the value is 1024 characters/);
  });
});
