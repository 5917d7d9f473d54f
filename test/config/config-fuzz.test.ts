import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import type { ConfigSources } from '../../src/config/load-config.ts';
import type { DaemonConfig } from '../../src/config/types.ts';
import { runCli } from '../support/cli-process.ts';

// Whatever the input, loading a config either yields a config whose values are usable as they are, or throws a
// ConfigError whose every issue is one line "<field path>: <message>". Never another error, never a stack trace.
const NUM_RUNS = 300;
/** Node clamps longer timers to 1 ms, so an accepted duration above this would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const sources: ConfigSources & { baseDir: string } = {
  env: { REDIS_HOST: '10.0.0.7', PROBE_PASSWORD: 'fuzz-env-password' },
  readFile: (path) => {
    if (path.endsWith('/password.txt')) return 'fuzz-file-password\n';
    throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  },
  baseDir: '/fuzz',
};

/**
 * An issue starts with a field path (or "(top level)" / "yaml"), ": ", then a message. The path is matched lazily:
 * a key of the user's own is quoted (`labels["a:b"]`) but may still hold a colon. The message may quote user text
 * verbatim, so a YAML key that is itself a map makes it span lines; a stack trace never appears.
 */
const ISSUE = /^(?<path>[^\n]+?): (?<message>.+)/;

function checkIssues(error: unknown): void {
  if (!(error instanceof ConfigError)) throw new Error(`not a ConfigError: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  assert.ok(error.issues.length > 0, 'a ConfigError names at least one issue');
  for (const issue of error.issues) {
    const match = ISSUE.exec(issue);
    assert.ok(match, `"${issue}" is "<field path>: <message>"`);
    assert.match(match.groups!.path!, /^(\(top level\)|yaml|[A-Za-z0-9_-]+([.[]|$)|\[)/, `"${issue}" starts with a field path`);
    assert.ok(!/\n\s+at /.test(issue), 'no stack trace');
  }
  assert.ok(error.message.startsWith('invalid configuration:\n'), 'the message leads with "invalid configuration:"');
}

/** What an accepted config must hold, so the daemon never starts with a value it cannot use. */
function checkAccepted(config: DaemonConfig): void {
  const durations = [config.server.shutdownGraceMs, ...config.targets.flatMap((target) => [target.timeoutMs, target.key.ttlMs])];
  for (const ms of durations) assert.ok(Number.isFinite(ms) && ms >= 1 && ms <= MAX_TIMER_MS, `duration ${ms} ms is usable as a timer`);
  for (const credential of config.credentials) {
    if (credential.type === 'entra') {
      for (const ms of [credential.refreshBeforeExpiryMs, credential.requestTimeoutMs, credential.retryInitialDelayMs, credential.retryMaxDelayMs]) {
        assert.ok(Number.isFinite(ms) && ms >= 1 && ms <= MAX_TIMER_MS, `credential duration ${ms} ms is usable as a timer`);
      }
    }
  }
  assert.ok(config.server.port >= 0 && config.server.port <= 65535);
  for (const target of config.targets) assert.ok(Number.isInteger(target.port) && target.port >= 1 && target.port <= 65535);
  assert.equal(new Set(config.targets.map((target) => target.name)).size, config.targets.length, 'target names are unique');
}

function load(text: string): void {
  let config: DaemonConfig;
  try {
    config = parseConfig(text, sources);
  } catch (error) {
    checkIssues(error);
    return;
  }
  checkAccepted(config);
}

/** A valid config in every respect; mutations below break it one field at a time. */
function validConfig(): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 9700, shutdownGrace: '3s' },
    log: { level: 'info', format: 'json' },
    defaults: {
      schedule: '*/10 * * * * *',
      timeout: '750ms',
      tls: { enabled: false, verify: true },
      key: { prefix: 'p:', ttl: '60s' },
      steps: ['ping', 'set', 'get'],
    },
    credentials: [
      { name: 'inline', type: 'access-key', password: 'inline-password' },
      { name: 'file', type: 'access-key', username: 'prober', passwordFile: 'password.txt' },
      { name: 'env', type: 'access-key', passwordEnv: 'PROBE_PASSWORD' },
    ],
    targets: [
      { name: 'a', host: '${REDIS_HOST}', port: 6379, credential: 'inline', labels: { team: 'cache' } },
      { name: 'b', host: 'b.example', port: 6380, credential: 'file', timeout: '2s', steps: ['ping'] },
      { name: 'c', host: 'c.example', credential: 'env', db: 1, schedule: '0 * * * * *', tls: { enabled: true, servername: 'c.example' } },
    ],
  };
}

const CONFIG_KEYS = [
  'server',
  'log',
  'metrics',
  'defaults',
  'credentials',
  'targets',
  'name',
  'host',
  'port',
  'timeout',
  'schedule',
  'tls',
  'key',
  'ttl',
  'steps',
  'labels',
  'db',
  'credential',
  'type',
  'password',
  'passwordFile',
  'passwordEnv',
  'username',
  'enabled',
  'verify',
  'ca',
  'shutdownGrace',
  'level',
  'format',
];
const key = fc.oneof(fc.constantFrom(...CONFIG_KEYS), fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'a:b', '', '<<', 'x y'));
const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -100_000, max: 100_000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '5s',
    '0ms',
    '-1s',
    '1e9d',
    '99999999999999999999d',
    '1.5h',
    '* * * * * *',
    '61 * * * * *',
    '${UNDEFINED_FUZZ_VAR}',
    '$${X}',
    '${REDIS_HOST:-x}',
    '~',
    'ping',
    'access-key',
    'entra',
  ),
);
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('node'), { maxKeys: 5 }),
})).node;

/** Paths into the valid config, and values that are wrong somewhere. */
const PATHS: readonly (readonly (string | number)[])[] = [
  ['server', 'port'],
  ['server', 'host'],
  ['server', 'shutdownGrace'],
  ['log', 'level'],
  ['log', 'format'],
  ['defaults', 'schedule'],
  ['defaults', 'timeout'],
  ['defaults', 'tls'],
  ['defaults', 'key', 'ttl'],
  ['defaults', 'steps'],
  ['credentials', 0, 'password'],
  ['credentials', 1, 'passwordFile'],
  ['credentials', 2, 'passwordEnv'],
  ['credentials', 0, 'type'],
  ['credentials', 1, 'name'],
  ['targets', 0, 'port'],
  ['targets', 0, 'name'],
  ['targets', 1, 'host'],
  ['targets', 1, 'timeout'],
  ['targets', 2, 'schedule'],
  ['targets', 2, 'db'],
  ['targets', 0, 'labels'],
  ['targets', 0, 'credential'],
  ['targets', 1, 'steps'],
  ['targets', 2, 'tls', 'enabled'],
  ['targets'],
  ['credentials'],
  ['defaults'],
  ['server'],
];
const wrongValue = fc.oneof(
  scalar,
  fc.constantFrom(0, -1, 65536, 1e12, 6379.5, Number.NaN, '6379', 'abc', [], {}, [1, 2], { nested: { deep: true } }),
  fc.constantFrom('*/0 * * * * *', '* * * *', 'every minute', '60 * * * * *'),
  fc.constantFrom('5', '5 s', '1y', 'ms', '-5s', '0s', '1e3ms', '25d', '100000h', 'NaNms'),
  tree,
);

type Mutation =
  | { readonly kind: 'set'; readonly path: readonly (string | number)[]; readonly value: unknown }
  | { readonly kind: 'delete'; readonly path: readonly (string | number)[] }
  | { readonly kind: 'unknown-key'; readonly path: readonly (string | number)[]; readonly key: string }
  | { readonly kind: 'duplicate-target' }
  | { readonly kind: 'undefined-env'; readonly path: readonly (string | number)[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value: wrongValue }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }),
  fc.record({
    kind: fc.constant('unknown-key' as const),
    path: fc.constantFrom(...PATHS.filter((path) => path.length > 1).map((path) => path.slice(0, -1))),
    key,
  }),
  fc.constant({ kind: 'duplicate-target' as const }),
  fc.record({ kind: fc.constant('undefined-env' as const), path: fc.constantFrom(...PATHS) }),
);

function parentOf(root: Record<string, unknown>, path: readonly (string | number)[]): Record<string | number, unknown> | undefined {
  let node: unknown = root;
  for (const part of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>) : undefined;
}

function mutate(config: Record<string, unknown>, change: Mutation): void {
  if (change.kind === 'duplicate-target') {
    const targets = config.targets;
    if (Array.isArray(targets) && targets.length > 0) targets.push(structuredClone(targets[0]));
    return;
  }
  if (change.kind === 'unknown-key') {
    const parent = parentOf(config, [...change.path, '']);
    if (parent && !Array.isArray(parent))
      Object.defineProperty(parent, change.key, { value: 'surprise', enumerable: true, writable: true, configurable: true });
    return;
  }
  const parent = parentOf(config, change.path);
  const last = change.path.at(-1)!;
  if (!parent) return;
  if (change.kind === 'delete') Reflect.deleteProperty(parent, last);
  else if (change.kind === 'set') parent[last] = change.value;
  else parent[last] = `x-\${UNDEFINED_FUZZ_VAR_${String(last).toUpperCase()}}`;
}

describe('config loading under hostile input (fast-check)', { timeout: 120_000 }, () => {
  it('the valid base config loads and passes the acceptance checks', () => {
    const config = parseConfig(stringify(validConfig()), sources);
    checkAccepted(config);
    assert.equal(config.targets.length, 3);
  });

  it(`random YAML trees: a config or a ConfigError of "<path>: <message>" lines (${NUM_RUNS} runs)`, () => {
    fc.assert(
      fc.property(tree, (value) => load(stringify(value))),
      { numRuns: NUM_RUNS },
    );
  });

  it(`random text, including YAML syntax, anchors and aliases (${NUM_RUNS} runs)`, () => {
    const fragments = fc.constantFrom(
      'targets:',
      '\n',
      '  - ',
      '{',
      '}',
      '[',
      ']',
      ': ',
      ', ',
      '&a ',
      '*a',
      '*missing',
      '!!binary ',
      '!!str ',
      '? ',
      '<<: *a',
      '%YAML 1.1\n',
      '---\n',
      '"',
      "'",
      '#',
      '|\n',
      'name: x',
      'host: h',
      'port: 99999',
      '\t',
      '\u0000',
      '\ufeff',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(fragments, { maxLength: 30 }).map((parts) => parts.join('')),
        ),
        (text) => load(text),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it(`a valid config with one to three fields broken (${NUM_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (changes) => {
        const config = validConfig();
        for (const change of changes) mutate(config, change);
        load(stringify(config));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('YAML alias bombs and unresolved aliases are configuration errors', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefgh'.split('').map((name, index) => `${name}: &${name} [${Array(10).fill(`*${'abcdefgh'[index]}`).join(', ')}]`),
      'targets: []',
    ].join('\n');
    for (const text of [bomb, 'targets: *nowhere']) {
      assert.throws(
        () => parseConfig(text, sources),
        (error: unknown) => {
          checkIssues(error);
          assert.match((error as ConfigError).issues[0]!, /^yaml: /);
          return true;
        },
      );
    }
  });

  it('keys of the user\'s own that are empty or hold ":" or "." are quoted in the field path (found by the fuzzer)', () => {
    const issuesOf = (text: string) => {
      try {
        parseConfig(text, sources);
      } catch (error) {
        checkIssues(error);
        return (error as ConfigError).issues;
      }
      assert.fail('should not validate');
    };
    assert.ok(
      issuesOf('"": "${UNDEFINED_FUZZ_VAR}"\ntargets: [{ name: a, host: h }]').some((issue) =>
        issue.startsWith('[""]: environment variable UNDEFINED_FUZZ_VAR'),
      ),
    );
    assert.ok(
      issuesOf('targets: [{ name: a, host: h, labels: { "a:b": x, "c.d": y } }]').some((issue) => issue.startsWith('targets[0].labels["a:b"]: is not a valid')),
    );
  });

  it('durations beyond what a timer can wait are rejected, naming the field', () => {
    const config = validConfig();
    (config.targets as Record<string, unknown>[])[1]!.timeout = '25d';
    (config.server as Record<string, unknown>).shutdownGrace = '99999999999999999999d';
    assert.throws(
      () => parseConfig(stringify(config), sources),
      (error: unknown) => {
        checkIssues(error);
        const issues = (error as ConfigError).issues;
        assert.ok(
          issues.some((issue) => issue.startsWith('targets[1].timeout: ')),
          issues.join('\n'),
        );
        assert.ok(
          issues.some((issue) => issue.startsWith('server.shutdownGrace: ')),
          issues.join('\n'),
        );
        return true;
      },
    );
  });
});

describe('redis-probe validate on bad configs (spawned dist/cli.js)', { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redis-probe-fuzz-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: readonly { name: string; text: string | Buffer; field: RegExp }[] = [
    { name: 'wrong types', text: 'server: { port: "http" }\ntargets: [{ name: 7, host: [], port: true }]\n', field: /targets\[0\]\.(name|host|port): / },
    { name: 'bad cron and duration', text: 'targets: [{ name: a, host: h, schedule: "61 * * * * *", timeout: 5 }]\n', field: /targets\[0\]\.schedule: / },
    {
      name: 'undefined env',
      text: 'targets: [{ name: a, host: "${REDIS_PROBE_FUZZ_UNSET}" }]\n',
      field: /targets\[0\]\.host: environment variable REDIS_PROBE_FUZZ_UNSET/,
    },
    { name: 'unresolved alias', text: 'targets: *nowhere\n', field: /yaml: / },
    {
      name: 'alias bomb',
      text: [
        'a: &a [x, x, x, x, x, x, x, x, x, x]',
        'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
        'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
        'targets: *c',
      ].join('\n'),
      field: /yaml: /,
    },
    { name: 'timer overflow', text: 'targets: [{ name: a, host: h, timeout: 30d }]\n', field: /targets\[0\]\.timeout: / },
    {
      name: 'binary garbage',
      text: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x3a, 0x0a, 0x7b]),
      field: /^redis-probe: .*: invalid configuration:\n {2}- [^:\n]+: /m,
    },
    { name: 'empty file', text: '', field: /targets: is required/ },
  ];

  for (const { name, text, field } of cases) {
    it(`${name}: exit 2, the field named, no stack trace`, async () => {
      const path = join(dir, `${name.replaceAll(' ', '-')}.yaml`);
      await writeFile(path, text);
      const run = await runCli(['validate', '--config', path]);
      assert.equal(run.code, 2, `${run.stdout}${run.stderr}`);
      assert.match(run.stderr, field);
      assert.doesNotMatch(run.stderr, /\n {4}at /, 'no stack trace');
      assert.equal(run.stdout, '');
    });
  }

  it('a directory given as the config: exit 2, no stack trace', async () => {
    const run = await runCli(['validate', '--config', dir]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /cannot read the config file/);
    assert.doesNotMatch(run.stderr, /\n {4}at /);
  });
});
