import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, formatPath, loadConfig, parseConfig } from '../../src/config/load-config.ts';
import type { ConfigSources } from '../../src/config/load-config.ts';

const testdata = join(import.meta.dirname, 'testdata');
const sources = (env: Record<string, string> = {}): ConfigSources => ({ env, readFile: (path) => readFileSync(path, 'utf8') });

function issuesOf(file: string, env: Record<string, string> = {}): readonly string[] {
  try {
    loadConfig(join(testdata, file), sources(env));
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.issues;
  }
  assert.fail(`${file} should not validate`);
}

describe('loadConfig', () => {
  it('resolves a full config: defaults, overrides, env substitution, secret files, Azure ports', () => {
    const config = loadConfig(join(testdata, 'valid-full.yaml'), sources({ REDIS_HOST: '10.1.2.3', PROBE_PASSWORD: 'from-env' }));
    assert.deepEqual(config.server, { host: '127.0.0.1', port: 9700, shutdownGraceMs: 3000 });
    assert.deepEqual(config.log, { level: 'debug', format: 'pretty', cycles: 'failures' });
    const [plain, azure, amr] = config.targets;
    assert.equal(plain?.host, '10.1.2.3');
    assert.equal(plain?.port, 6379, 'TLS off defaults to 6379');
    assert.deepEqual(plain?.labels, { team: 'cache', tier: 'gold' });
    assert.equal(plain?.timeoutMs, 750);
    assert.equal(plain?.schedule, '*/10 * * * * *');
    assert.deepEqual(plain?.key, { prefix: 'probe:', ttlMs: 120_000 });
    assert.deepEqual(plain?.steps, ['ping', 'get', 'set']);
    assert.equal(azure?.port, 6380, 'TLS on defaults to 6380 (Azure Cache for Redis)');
    assert.equal(azure?.tls.enabled, true);
    assert.equal(azure?.tls.verify, true);
    assert.deepEqual(azure?.steps, ['ping']);
    assert.equal(azure?.timeoutMs, 2000);
    assert.equal(amr?.port, 10000);
    assert.equal(amr?.tls.servername, 'example.westeurope.redis.azure.net');
    const byName = new Map(config.credentials.map((credential) => [credential.name, credential]));
    assert.deepEqual(byName.get('key-file'), { type: 'access-key', name: 'key-file', username: 'prober', password: 's3cret-from-file' });
    assert.deepEqual(byName.get('key-env'), { type: 'access-key', name: 'key-env', password: 'from-env' });
    assert.equal(byName.get('key-inline')?.type === 'access-key' && byName.get('key-inline')?.type, 'access-key');
    const entra = byName.get('entra-wi');
    assert.equal(entra?.type, 'entra');
    if (entra?.type === 'entra') {
      assert.equal(entra.scope, 'https://redis.azure.com/.default');
      assert.equal(entra.refreshBeforeExpiryMs, 300_000);
    }
  });

  it('fills defaults for a minimal config', () => {
    const config = parseConfig('targets: [{ name: a, host: h }]', { ...sources(), baseDir: testdata });
    assert.deepEqual(config.server, { host: '0.0.0.0', port: 9637, shutdownGraceMs: 10_000 });
    const [target] = config.targets;
    assert.equal(target?.schedule, '*/15 * * * * *');
    assert.equal(target?.timeoutMs, 5000);
    assert.deepEqual(target?.steps, ['ping', 'set', 'get', 'client_list']);
    assert.equal(target?.tls.enabled, true, 'TLS is on by default');
    assert.equal(target?.tls.verify, true, 'certificate verification is on by default');
    assert.equal(target?.db, 0);
  });

  // Each bad config maps to the exact issue lines it must produce (field path, problem, fix).
  const cases: Record<string, { env?: Record<string, string>; expected: string[] }> = {
    'bad-port.yaml': { expected: ['targets[2].port: must be 1-65535'] },
    'bad-unknown-key.yaml': { expected: ['targets[0]: unknown key "hots"; remove or correct it'] },
    'bad-duplicate-target.yaml': { expected: ['targets[1].name: "a" is already used by targets[0]; names must be unique'] },
    'bad-cron.yaml': {
      expected: ['defaults.schedule: is not a valid cron expression; use 6 fields with seconds first, e.g. "*/15 * * * * *" for every 15 s'],
    },
    'bad-missing-password-file.yaml': {
      expected: [`credentials[0].passwordFile: cannot read does-not-exist.txt (no such file); check the path and the mount`],
    },
    'bad-undefined-env.yaml': {
      expected: [
        'targets[0].host: environment variable REDIS_PROBE_TEST_UNSET_VAR is not set; export it, give a fallback with ${REDIS_PROBE_TEST_UNSET_VAR:-value}, or write $${REDIS_PROBE_TEST_UNSET_VAR} for a literal',
      ],
    },
    'bad-unknown-credential.yaml': {
      expected: ['targets[0].credential: "nope" is not defined; add it to credentials or fix the name (defined: k)'],
    },
    'bad-two-passwords.yaml': { expected: ['credentials[0]: set exactly one of password, passwordFile, passwordEnv (found 2)'] },
    'bad-types.yaml': {
      expected: [
        'server.port: must be a number 1-65535',
        'defaults.timeout: must be a duration string such as "500ms", "5s" or "2m" (per-step timeout)',
        'defaults.steps[1]: must be one of ping, set, get, client_list',
        'targets[0].name: must be 1-100 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
        'targets[0].tls.enabled: must be true or false',
      ],
    },
    'bad-duration.yaml': { expected: ['defaults.timeout: must be a duration such as "500ms", "5s", "2m" or "1h" (per-step timeout)'] },
    'bad-no-targets.yaml': { expected: ['targets: is required'] },
    'bad-credential-type.yaml': { expected: ['credentials[0].type: type must be "access-key" or "entra"'] },
    'bad-reserved-label.yaml': {
      expected: [
        'targets[0].labels.target: is reserved by redis-probe; choose another name (reserved: target, host, port, tls, node, step, reason, location, credential)',
        'targets[0].labels.bad-label: is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading "__")',
      ],
    },
  };
  for (const [file, { env, expected }] of Object.entries(cases)) {
    it(`rejects ${file} with every issue named by field`, () => {
      assert.deepEqual([...issuesOf(file, env)].sort(), [...expected].sort());
    });
  }

  it('reports YAML syntax errors without a stack trace', () => {
    const issues = issuesOf('bad-yaml.yaml');
    assert.equal(issues.length >= 1, true);
    assert.match(issues[0] ?? '', /^yaml: .+; fix the YAML syntax$/);
  });

  it('names the file when it cannot be read', () => {
    assert.deepEqual(issuesOf('no-such-config.yaml').map((issue) => issue.replace(testdata, 'DIR')), [
      'DIR/no-such-config.yaml: cannot read the config file (no such file); check --config or REDIS_PROBE_CONFIG',
    ]);
  });

  it('never echoes a secret value in its errors', () => {
    const text = 'credentials: [{ name: k, type: access-key, password: 12345, passwordFile: /nope/Sup3rSecretValue }]\ntargets: [{ name: a, host: h, credential: k }]';
    assert.throws(
      () => parseConfig(text.replace('12345', '"Sup3rSecretValue"'), { ...sources(), baseDir: testdata }),
      (error: unknown) => error instanceof ConfigError && !error.issues.some((issue) => issue.includes('Sup3rSecretValue') && !issue.includes('/nope/')),
    );
  });
});

describe('formatPath', () => {
  it('renders zod paths the way users write them', () => {
    assert.equal(formatPath(['targets', 2, 'port']), 'targets[2].port');
    assert.equal(formatPath([]), '(top level)');
  });
});
