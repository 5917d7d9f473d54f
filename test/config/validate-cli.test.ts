/** `validate` and `run` of the built CLI (dist/cli.js) on configs that must fail, or warn, before anything is probed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redis-probe-validate-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function configFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('config errors through the CLI', { timeout: 60_000 }, () => {
  it('validate and run name the field of a misplaced key without printing the key', async () => {
    const secret = 's3cret-pw-"quoted\\Lm40';
    const config = await configFile(
      'misplaced-key.yaml',
      `credentials:
  - { name: k, type: access-key, passwordEnv: "\${REDIS_PW}" }
  - { name: e, type: entra, source: client-secret, tenantId: t, clientId: c, clientSecretEnv: "\${REDIS_PW}" }
  - { name: f, type: access-key, passwordFile: "\${REDIS_PW}" }
targets: [{ name: a, host: 127.0.0.1, credential: k, tls: { enabled: false } }]
`,
    );
    for (const command of ['validate', 'run']) {
      const run = await runCli([command, '--config', config], { env: { REDIS_PW: secret } });
      assert.equal(run.code, 2, `${command}: ${run.stderr}`);
      for (const field of ['credentials[0].passwordEnv', 'credentials[1].clientSecretEnv', 'credentials[2].passwordFile']) {
        assert.ok(run.stderr.includes(`${field}: `), `${command} names ${field}:\n${run.stderr}`);
      }
      assert.match(run.stderr, /write passwordEnv: REDIS_PW/);
      for (const form of [secret, JSON.stringify(secret).slice(1, -1), 's3cret-pw']) {
        assert.ok(!run.stdout.includes(form) && !run.stderr.includes(form), `${command} printed the key:\n${run.stderr}`);
      }
    }
  });
});
