import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultMode, FaultProxy } from '../support/fault-proxy.ts';
import type { LeakReport } from './leak-worker.ts';

// 1,000 back-to-back failing cycles per fault in a child process with --expose-gc (the child holds nothing but the
// daemon, so its heap, handles and sockets are the daemon's). The harness (redis, proxies) stays in this process.
const CYCLES = 1_000;
/**
 * Cycles run before the first measurement: until the JIT settles the heap grows by a constant 0.2-0.4 MB
 * (the same after 1,000 or 6,000 cycles), which would hide a real leak of that size.
 */
const WARM_UP = 1_000;
const WORKER = join(import.meta.dirname, 'leak-worker.ts');
/** Generous (after the warm-up the growth is near zero), yet half a kilobyte per cycle would exceed it. */
const MAX_HEAP_GROWTH_BYTES = 512 * 1024;

let server: RedisServer;
const proxies: FaultProxy[] = [];

before(async () => {
  server = await startRedis();
});
after(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await server.stop();
});

function runWorker(port: number, timeoutMs: number): Promise<LeakReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', WORKER], {
      env: { ...process.env, LEAK_PORT: String(port), LEAK_CYCLES: String(CYCLES), LEAK_TIMEOUT_MS: String(timeoutMs), LEAK_WARM_UP: String(WARM_UP) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code !== 0) {
        reject(new Error(`leak worker exited ${code}: ${stderr}`));
        return;
      }
      resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as LeakReport);
    });
  });
}

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MB`;

const cases: readonly { mode: FaultMode; timeoutMs: number; expected: string }[] = [
  { mode: 'reset-mid-reply', timeoutMs: 400, expected: 'connect/connection_reset' },
  { mode: 'refuse', timeoutMs: 400, expected: 'connect/connection_refused' },
  { mode: 'garbage', timeoutMs: 400, expected: 'connect/unexpected_reply' },
  { mode: 'stall', timeoutMs: 5, expected: 'connect/timeout' },
];

describe(`${CYCLES} failing cycles leak neither memory, nor handles, nor sockets`, { timeout: 170_000, concurrency: 2 }, () => {
  for (const { mode, timeoutMs, expected } of cases) {
    it(`${String(mode)} (timeout ${timeoutMs} ms): every cycle ${expected}`, async (t) => {
      const proxy = await startFaultProxy({ host: server.host, port: server.port });
      proxies.push(proxy);
      await proxy.setMode(mode);
      const report = await runWorker(proxy.port, timeoutMs);
      const growth = report.heapAfterBytes - report.heapBeforeBytes;
      t.diagnostic(
        `${String(mode)}: ${report.cycles} cycles in ${Math.round(report.durationMs)} ms; heap ${mb(report.heapBeforeBytes)} → ` +
          `${mb(report.heapAfterBytes)} (${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(1)} KB); handles ${report.handlesBefore} → ` +
          `${report.handlesAfter}; sockets ${report.socketsBefore} → ${report.socketsAfter}; rss ${mb(report.rssAfterBytes)}`,
      );
      assert.deepEqual(report.errors, []);
      assert.deepEqual(report.reasons, { [expected]: CYCLES }, 'every cycle failed with the expected step and reason');
      assert.ok(growth < MAX_HEAP_GROWTH_BYTES, `heap grew by ${growth} bytes over ${CYCLES} cycles`);
      assert.ok(
        report.handlesAfter <= report.handlesBefore + 1,
        `handles ${report.handlesBefore} → ${report.handlesAfter}: ${report.resourcesAfter.join(' ')}`,
      );
      assert.ok(report.socketsAfter <= report.socketsBefore, `sockets ${report.socketsBefore} → ${report.socketsAfter}`);
      // Whatever the daemon opened through the proxy was closed, seen from the other end too.
      assert.equal(proxy.connectionCount(), 0);
      if (mode !== 'refuse') assert.ok(proxy.acceptedCount() >= CYCLES, `${proxy.acceptedCount()} connections accepted`);
    });
  }
});
