import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load-config.ts';
import { formatPath } from '../../src/config/issues.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import type { ConfigSources } from '../../src/config/load-config.ts';
import { generateTlsCerts } from '../support/tls-certs.ts';
import type { TlsCerts } from '../support/tls-certs.ts';

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

  it('takes numbers from the environment: port, db and shard fields accept numeric strings after substitution', () => {
    const text = `server: { port: "\${HTTP_PORT}" }
shard: { index: "\${INDEX}", count: "\${COUNT}" }
targets: [{ name: a, host: h, port: "\${REDIS_PORT}", db: "\${DB}" }]`;
    const config = parseConfig(text, { ...sources({ HTTP_PORT: '9700', REDIS_PORT: ' 6380 ', DB: '3', INDEX: '0', COUNT: '1' }), baseDir: testdata });
    assert.equal(config.server.port, 9700);
    assert.deepEqual([config.targets[0]?.port, config.targets[0]?.db], [6380, 3]);
    assert.deepEqual(config.shard, { index: 0, count: 1, source: 'config' });
    assert.throws(
      () => parseConfig(text, { ...sources({ HTTP_PORT: 'http', REDIS_PORT: '6380.5', DB: '', INDEX: '-1', COUNT: '1' }), baseDir: testdata }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual([...error.issues].sort(), [
          'server.port: must be a number 1-65535',
          'shard.index: must be 0 or more',
          'targets[0].db: must be a whole number from 0',
          'targets[0].port: must be a whole number 1-65535',
        ]);
        return true;
      },
    );
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
    'bad-duplicate-with-other-errors.yaml': {
      expected: [
        'targets[0].port: must be 1-65535',
        'targets[2]: unknown key "colour"; remove or correct it',
        'credentials[1].name: "k" is already used by credentials[0]; names must be unique',
        'targets[1].name: "a" is already used by targets[0]; names must be unique',
        'targets[3].name: "b" is already used by targets[2]; names must be unique',
      ],
    },
    'bad-unterminated-env.yaml': {
      env: { HOSTVAR: 'cache.example.net' },
      expected: ['targets[0].host: the "${" at character 1 has no closing "}"; close the reference, or write $${ for a literal "${"'],
    },
    'bad-nested-env.yaml': {
      env: { A: 'cache.example.net' },
      expected: [
        'targets[0].host: the fallback of the reference at character 1 holds another "${"; references do not nest: use one variable, or write $${ for a literal "${"',
        'targets[1].host: the reference at character 1 does not start with a variable name (letters, digits and "_", not starting with a digit); fix the name, or write $${ for a literal "${"',
      ],
    },
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
    assert.deepEqual(
      issuesOf('no-such-config.yaml').map((issue) => issue.replace(testdata, 'DIR')),
      ['DIR/no-such-config.yaml: cannot read the config file (no such file); check --config or REDIS_PROBE_CONFIG'],
    );
  });

  it('says "a directory" for a secret file that is a directory, as the web config does (not EISDIR)', () => {
    // The config and the web config each had a copy of describeFsError; only the web config's knew EISDIR.
    const text = 'credentials: [{ name: k, type: access-key, passwordFile: . }]\ntargets: [{ name: a, host: h, credential: k }]';
    assert.throws(
      () => parseConfig(text, { ...sources(), baseDir: testdata }),
      (error: unknown) =>
        error instanceof ConfigError && error.issues.includes('credentials[0].passwordFile: cannot read . (a directory); check the path and the mount'),
    );
  });

  it('never echoes a secret value in its errors', () => {
    const text =
      'credentials: [{ name: k, type: access-key, password: 12345, passwordFile: /nope/Sup3rSecretValue }]\ntargets: [{ name: a, host: h, credential: k }]';
    assert.throws(
      () => parseConfig(text.replace('12345', '"Sup3rSecretValue"'), { ...sources(), baseDir: testdata }),
      (error: unknown) => error instanceof ConfigError && !error.issues.some((issue) => issue.includes('Sup3rSecretValue') && !issue.includes('/nope/')),
    );
  });
});

describe('errors about fields that name a variable or a file never echo a substituted value', () => {
  const secret = 's3cret-pw-Qv82';
  const load = (text: string, env: Record<string, string>): readonly string[] => {
    try {
      parseConfig(text, { ...sources(env), baseDir: testdata });
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.issues;
    }
    assert.fail('the config should not validate');
  };
  const env = { REDIS_PW: secret, CLIENT_SECRET: secret, SECRETS_DIR: `/run/${secret}` };
  const cases: Record<string, { text: string; expected: string[] }> = {
    'passwordEnv holding ${VAR}': {
      text: 'credentials: [{ name: k, type: access-key, passwordEnv: "${REDIS_PW}" }]\ntargets: [{ name: a, host: h, credential: k }]',
      expected: [
        'credentials[0].passwordEnv: names no environment variable that is set; it is written "${REDIS_PW}", whose value is not shown as it may be a secret. passwordEnv takes the name of the variable: write passwordEnv: REDIS_PW',
      ],
    },
    'clientSecretEnv holding ${VAR}': {
      text: 'credentials: [{ name: e, type: entra, source: client-secret, tenantId: t, clientId: c, clientSecretEnv: "${CLIENT_SECRET}" }]\ntargets: [{ name: a, host: h, credential: e }]',
      expected: [
        'credentials[0].clientSecretEnv: names no environment variable that is set; it is written "${CLIENT_SECRET}", whose value is not shown as it may be a secret. clientSecretEnv takes the name of the variable: write clientSecretEnv: CLIENT_SECRET',
      ],
    },
    'passwordEnv built from several references': {
      text: 'credentials: [{ name: k, type: access-key, passwordEnv: "PW_${REDIS_PW}" }]\ntargets: [{ name: a, host: h, credential: k }]',
      expected: [
        'credentials[0].passwordEnv: names no environment variable that is set; it is written "PW_${REDIS_PW}", whose value is not shown as it may be a secret. passwordEnv takes the name of the variable that holds the value, without ${...}',
      ],
    },
    'passwordEnv holding the key itself': {
      text: `credentials: [{ name: k, type: access-key, passwordEnv: "${secret}" }]\ntargets: [{ name: a, host: h, credential: k }]`,
      expected: [
        'credentials[0].passwordEnv: is not a variable name (letters, digits and "_", not starting with a digit), and is not shown as it may be a secret; passwordEnv takes the name of the variable that holds the value, not the value',
      ],
    },
    'passwordFile holding ${VAR}': {
      text: 'credentials: [{ name: k, type: access-key, passwordFile: "${REDIS_PW}" }]\ntargets: [{ name: a, host: h, credential: k }]',
      expected: [
        'credentials[0].passwordFile: cannot read the file it names (no such file); it is written "${REDIS_PW}", whose value is not shown as it may be a secret. passwordFile takes a path: check it and the mount',
      ],
    },
    'clientSecretFile, authorityCa and TLS files under a substituted directory': {
      text: `credentials: [{ name: e, type: entra, source: client-secret, tenantId: t, clientId: c, clientSecretFile: "\${SECRETS_DIR}/secret", authorityCa: "\${SECRETS_DIR}/ca.pem" }]
defaults: { tls: { ca: "\${SECRETS_DIR}/redis-ca.pem" } }
targets: [{ name: a, host: h, credential: e, tls: { cert: "\${SECRETS_DIR}/c.pem", key: "\${SECRETS_DIR}/k.pem" } }]`,
      expected: ['credentials[0].clientSecretFile', 'credentials[0].authorityCa', 'targets[0].tls.ca', 'targets[0].tls.cert', 'targets[0].tls.key'].map(
        (field) => {
          const written = {
            'credentials[0].clientSecretFile': 'secret',
            'credentials[0].authorityCa': 'ca.pem',
            'targets[0].tls.ca': 'redis-ca.pem',
            'targets[0].tls.cert': 'c.pem',
            'targets[0].tls.key': 'k.pem',
          }[field];
          const name = field.split('.').at(-1);
          return `${field}: cannot read the file it names (no such file); it is written "\${SECRETS_DIR}/${written}", whose value is not shown as it may be a secret. ${name} takes a path: check it and the mount`;
        },
      ),
    },
    'a credential reference holding ${VAR}': {
      text: 'targets: [{ name: a, host: h, credential: "${REDIS_PW}" }]',
      expected: [
        'targets[0].credential: "${REDIS_PW}" (as written; its value is not shown as it may be a secret) is not defined; add it to credentials or fix the name (defined: none)',
      ],
    },
  };
  for (const [name, { text, expected }] of Object.entries(cases)) {
    it(`${name}: names the field and the fix, not the value`, () => {
      const issues = load(text, env);
      assert.ok(!issues.some((issue) => issue.includes(secret)), issues.join('\n'));
      assert.deepEqual([...issues].sort(), [...expected].sort());
    });
  }

  it('still names a variable or a file written literally', () => {
    assert.deepEqual(
      load('credentials: [{ name: k, type: access-key, passwordEnv: REDIS_PROBE_TEST_UNSET }]\ntargets: [{ name: a, host: h, credential: k }]', {}),
      ['credentials[0].passwordEnv: environment variable REDIS_PROBE_TEST_UNSET is not set or empty; export it or use passwordFile'],
    );
    assert.deepEqual(
      load('credentials: [{ name: k, type: access-key, passwordFile: "${DIR:-/etc}/nope" }]\ntargets: [{ name: a, host: h, credential: k }]', {}),
      [
        'credentials[0].passwordFile: cannot read the file it names (no such file); it is written "${DIR:-/etc}/nope", whose value is not shown as it may be a secret. passwordFile takes a path: check it and the mount',
      ],
    );
  });
});

describe('TLS and authority CA files must hold PEM of the right kind', { timeout: 60_000 }, () => {
  let dir: string;
  let certs: TlsCerts;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-pem-'));
    certs = await generateTlsCerts(join(dir, 'certs'));
    const truncated = certs.ca.certPem.replace(/\n[A-Za-z0-9+/=]{20,}\n/, '\n');
    const encrypted = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    const files: Record<string, string> = {
      'garbage.pem': 'this is not PEM\n',
      'broken-cert.pem': truncated,
      'broken-key.pem': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      'encrypted-key.pem': encrypted,
      'bundle.pem': `${certs.ca.certPem}\n${certs.otherCa.certPem}`,
      'empty.pem': '\n',
    };
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const issues = (text: string): readonly string[] => {
    try {
      parseConfig(text, { ...sources(), baseDir: dir });
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.issues;
    }
  };
  const target = (tls: string) => `targets: [{ name: a, host: h, tls: { ${tls} } }]`;

  it('accepts a CA bundle and a client certificate with its key', () => {
    assert.deepEqual(issues(target(`ca: bundle.pem, cert: ${certs.client.certPath}, key: ${certs.client.keyPath}`)), []);
    assert.deepEqual(issues(target('enabled: false, ca: garbage.pem')), [], 'files of a target without TLS are not read');
  });

  const cases: Record<string, { tls: string; expected: string }> = {
    'a CA file that is not PEM': {
      tls: 'ca: garbage.pem',
      expected: 'targets[0].tls.ca: holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); point it at the certificate file in PEM form',
    },
    'a CA certificate that does not parse': {
      tls: 'ca: broken-cert.pem',
      expected: 'targets[0].tls.ca: holds a "-----BEGIN CERTIFICATE-----" block that is not a valid certificate; replace the file with an intact copy',
    },
    'a key where the certificate belongs': {
      tls: 'cert: CLIENT_KEY, key: CLIENT_KEY',
      expected: 'targets[0].tls.cert: holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); point it at the certificate file in PEM form',
    },
    'a certificate where the key belongs': {
      tls: 'cert: CLIENT_CERT, key: CLIENT_CERT',
      expected:
        'targets[0].tls.key: holds no PEM private key (a "-----BEGIN PRIVATE KEY-----" block, or RSA/EC PRIVATE KEY); point it at the key file in PEM form',
    },
    'a key that does not parse': {
      tls: 'cert: CLIENT_CERT, key: broken-key.pem',
      expected: 'targets[0].tls.key: holds a private key block that is not a valid key; replace the file with an intact copy',
    },
    'an encrypted key': {
      tls: 'cert: CLIENT_CERT, key: encrypted-key.pem',
      expected:
        'targets[0].tls.key: is encrypted, and redis-probe takes no passphrase; store it decrypted (openssl pkey -in encrypted.pem -out key.pem) in a Secret',
    },
    'an empty CA file': { tls: 'ca: empty.pem', expected: 'targets[0].tls.ca: the file is empty; put the PEM text in it' },
    'a certificate and a key that do not belong together': {
      tls: 'cert: CLIENT_CERT, key: SERVER_KEY',
      expected: 'targets[0].tls: the key in key is not the private key of the certificate in cert; give the pair that belongs together',
    },
  };
  for (const [name, { tls, expected }] of Object.entries(cases)) {
    it(`rejects ${name}`, () => {
      const text = target(tls)
        .replaceAll('CLIENT_KEY', certs.client.keyPath)
        .replaceAll('CLIENT_CERT', certs.client.certPath)
        .replaceAll('SERVER_KEY', certs.server.keyPath);
      assert.deepEqual(issues(text), [expected]);
    });
  }

  it('checks the authority CA of an Entra credential, and a defaults.tls file once for every target', () => {
    const text = `credentials: [{ name: e, type: entra, authorityCa: garbage.pem }]
defaults: { tls: { ca: broken-cert.pem } }
targets: [{ name: a, host: h, credential: e }, { name: b, host: h }]`;
    assert.deepEqual([...issues(text)].sort(), [
      'credentials[0].authorityCa: holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); point it at the certificate file in PEM form',
      'targets[0].tls.ca: holds a "-----BEGIN CERTIFICATE-----" block that is not a valid certificate; replace the file with an intact copy',
      'targets[1].tls.ca: holds a "-----BEGIN CERTIFICATE-----" block that is not a valid certificate; replace the file with an intact copy',
    ]);
  });
});

describe('formatPath', () => {
  it('renders zod paths the way users write them', () => {
    assert.equal(formatPath(['targets', 2, 'port']), 'targets[2].port');
    assert.equal(formatPath([]), '(top level)');
  });
});
