import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { renderStatusPage, wantsHtml } from '../../src/http/status-page.ts';
import { startRedis } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { freePort } from '../support/free-port.ts';
import { collect, spawnCli } from '../support/cli-process.ts';
import type { CliRun } from '../support/cli-process.ts';
import { waitFor } from '../support/wait.ts';

const { version } = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
const SECRET = 'status-page-secret-L9p2';
/** Debian's chromium (scripts/test.sh installs it), flags for a quiet, offline, sandbox-less CI run. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('status page content negotiation and escaping', () => {
  it('HTML only for a client that asks for it before JSON', () => {
    assert.ok(wantsHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'));
    assert.ok(wantsHtml('text/html'));
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.5', 'text/html;q=0', 'text/plain'])
      assert.ok(!wantsHtml(accept), String(accept));
  });

  it('escapes every value', () => {
    const html = renderStatusPage({
      version: '<v>',
      shard: '"0/2"',
      targets: [{ target: '<script>alert(1)</script>', state: 'down', lastSuccess: null, lastFailure: { at: 'x', step: 'ping', reason: '<b>&' } }],
      credentials: [{ name: "o'k", type: 'entra', tokenState: 'valid', expiresAt: '<e>', lastErrorKind: null }],
    });
    assert.ok(!html.includes('<script>') && !html.includes('<b>') && !html.includes('<v>') && !html.includes('<e>'));
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /&lt;b&gt;&amp;/);
    assert.match(html, /o&#39;k/);
    assert.match(html, /&quot;0\/2&quot;/);
  });
});

describe('the status page in a real browser, served by the running daemon', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let dir: string;
  let daemon: ChildProcessWithoutNullStreams;
  let exited: Promise<CliRun>;
  let base: string;
  let context: BrowserContext;

  before(async () => {
    redis = await startRedis({ aclUsers: [{ name: 'prober', password: SECRET, rules: '+@all ~* &*' }] });
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-status-'));
    const httpPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    await writeFile(
      join(dir, 'config.yaml'),
      `server: { host: 127.0.0.1, port: ${httpPort} }
defaults: { schedule: "* * * * * *", timeout: 1s, tls: { enabled: false } }
shard: { index: 0, count: 1 }
credentials:
  - { name: key, type: access-key, username: prober, password: ${SECRET} }
  - name: entra-down
    type: entra
    source: client-secret
    tenantId: 00000000-0000-0000-0000-000000000001
    clientId: 00000000-0000-0000-0000-000000000002
    clientSecretEnv: STATUS_TEST_CLIENT_SECRET
    authorityHost: https://127.0.0.1:${await freePort()}
    disableInstanceDiscovery: true
    requestTimeout: 1s
    retry: { initialDelay: 1s, maxDelay: 2s }
targets:
  - { name: up, host: 127.0.0.1, port: ${redis.port}, credential: key }
  - { name: down, host: 127.0.0.1, port: ${await freePort()} }
  - { name: no-token, host: 127.0.0.1, port: ${redis.port}, credential: entra-down }
`,
    );
    daemon = spawnCli(['run', '--config', join(dir, 'config.yaml')], { STATUS_TEST_CLIENT_SECRET: SECRET });
    exited = collect(daemon, 120_000);
    await waitFor(
      async () => {
        const status = (await (await fetch(`${base}/`)).json()) as {
          targets: { target: string; lastCycle?: unknown }[];
          credentials: { tokenState: string }[];
        };
        return (
          status.targets.length === 3 &&
          status.targets.every((target) => target.lastCycle) &&
          status.credentials.some((credential) => credential.tokenState === 'failing')
        );
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'a cycle of every target and a failed token request' },
    );
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await context?.close();
    if (daemon?.exitCode === null) daemon.kill('SIGKILL');
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('JSON for everything but a browser, with the version, shard and credentials', async () => {
    const response = await fetch(`${base}/`);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(response.headers.get('vary'), 'Accept');
    const status = (await response.json()) as Record<string, unknown>;
    assert.equal(status['version'], version);
    assert.equal(status['shard'], '0/1');
    assert.deepEqual(
      (status['credentials'] as { name: string; tokenState: string }[]).map(({ name, tokenState }) => ({ name, tokenState })),
      [
        { name: 'key', tokenState: 'static' },
        { name: 'entra-down', tokenState: 'failing' },
      ],
    );
  });

  it('renders each target and credential, with a strict CSP, a self-refresh and no console error', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    const response = await page.goto(`${base}/`);
    assert.equal(response?.status(), 200);
    const headers = response?.headers() ?? {};
    assert.match(headers['content-type'] ?? '', /^text\/html/);
    assert.match(headers['content-security-policy'] ?? '', /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    // The stylesheet applied: a CSP that blocked it would leave the header cells unstyled.
    assert.equal(await page.evaluate("getComputedStyle(document.querySelector('#targets th')).backgroundColor"), 'rgb(243, 243, 243)');
    assert.equal(await page.locator('#version').textContent(), version);
    assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), '15');

    const row = (target: string) => page.locator(`#targets tr[data-target="${target}"] td`).allTextContents();
    const up = await row('up');
    assert.equal(up[1], 'up');
    assert.match(up[3] ?? '', /^\d{4}-\d\d-\d\dT/, 'last success');
    assert.equal(up[4], '—', 'no failure yet');
    // connect and auth appear only in a cycle that opened the connection.
    assert.match(up[6] ?? '', /ping [\d.]+ ms, set [\d.]+ ms, get [\d.]+ ms, client_list [\d.]+ ms/);
    assert.equal(up[7], '0/1');
    const down = await row('down');
    assert.equal(down[1], 'down');
    assert.equal(down[3], '—', 'never succeeded');
    assert.match(down[4] ?? '', /^connection_refused at connect \(\d{4}-/);
    const noToken = await row('no-token');
    assert.equal(noToken[1], 'down');
    assert.match(noToken[4] ?? '', /^token at /);

    const credential = (name: string) => page.locator(`#credentials tr[data-credential="${name}"] td`).allTextContents();
    assert.deepEqual((await credential('key')).slice(1, 4), ['access-key', 'static', '—']);
    const entra = await credential('entra-down');
    assert.deepEqual(entra.slice(1, 4), ['entra', 'failing', '—']);
    assert.ok(!(await page.content()).includes(SECRET));
    // Give late CSP reports and resource errors a moment to reach the console.
    await page.waitForLoadState('networkidle');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('stops cleanly', async () => {
    daemon.kill('SIGTERM');
    const run = await exited;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes(SECRET));
  });
});
