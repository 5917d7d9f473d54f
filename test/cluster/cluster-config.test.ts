import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import type { DaemonConfig } from '../../src/config/types.ts';

const sources = {
  env: {},
  readFile: (path: string) => {
    throw Object.assign(new Error(`no ${path}`), { code: 'ENOENT' });
  },
  baseDir: '/nonexistent',
};

function parse(targetYaml: string, extra = ''): DaemonConfig {
  return parseConfig(`${extra}targets:\n${targetYaml}`, sources);
}

function issuesOf(targetYaml: string, extra = ''): readonly string[] {
  try {
    parse(targetYaml, extra);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

describe('cluster target config', () => {
  it('resolves cluster: true with a natMap and a refresh period', () => {
    const config = parse(`  - name: orders
    host: orders.redis.cache.windows.net
    cluster: true
    clusterRefresh: 30s
    natMap:
      "10.0.0.4:15000": "orders.redis.cache.windows.net:15000"
      "[fd00::5]:15001": "127.0.0.1:25001"
`);
    assert.deepEqual(config.targets[0]?.cluster, {
      natMap: {
        '10.0.0.4:15000': { host: 'orders.redis.cache.windows.net', port: 15000 },
        '[fd00::5]:15001': { host: '127.0.0.1', port: 25001 },
      },
      refreshMs: 30_000,
    });
  });

  it('defaults: no natMap, refresh every 60 s; single-endpoint targets have no cluster at all', () => {
    const config = parse(`  - { name: c, host: h, cluster: true }
  - { name: s, host: h }
  - { name: off, host: h, cluster: false }
`);
    assert.deepEqual(config.targets[0]?.cluster, { natMap: {}, refreshMs: 60_000 });
    assert.equal(config.targets[1]?.cluster, undefined);
    assert.equal(config.targets[2]?.cluster, undefined);
  });

  it('names the field of every bad natMap entry', () => {
    const issues = issuesOf(`  - name: c
    host: h
    cluster: true
    natMap: { "10.0.0.4": "h:15000", "10.0.0.5:15001": "nowhere", "10.0.0.6:15002": 15002 }
`);
    assert.deepEqual(issues, [
      'targets[0].natMap: key "10.0.0.4" is not an announced "host:port" as CLUSTER SHARDS reports it (e.g. "10.0.0.4:15000", IPv6 as "[fd00::4]:15000")',
      'targets[0].natMap: "10.0.0.5:15001" maps to "nowhere", which is not a reachable "host:port" (e.g. "cache.example.net:15000")',
      'targets[0].natMap: "10.0.0.6:15002" maps to 15002, which is not a reachable "host:port" (e.g. "cache.example.net:15000")',
    ]);
  });

  it('rejects natMap or clusterRefresh without cluster: true, a non-zero db, braces in the key prefix, a tiny refresh', () => {
    assert.deepEqual(issuesOf(`  - { name: a, host: h, natMap: { "1.2.3.4:1": "h:1" }, clusterRefresh: 10s }\n`), [
      'targets[0].natMap: only applies to a cluster; set cluster: true or remove it',
      'targets[0].clusterRefresh: only applies to a cluster; set cluster: true or remove it',
    ]);
    assert.deepEqual(issuesOf(`  - { name: a, host: h, cluster: true, db: 2 }\n`), ['targets[0].db: a Redis Cluster serves only database 0; remove db']);
    assert.deepEqual(issuesOf(`  - { name: a, host: h, cluster: true }\n`, 'defaults: { key: { prefix: "app{x}:" } }\n'), [
      'targets[0].key.prefix: must not contain "{" or "}" on a cluster target; the probe adds its own {hash tag} to reach each node\'s slots',
    ]);
    const tooFast = issuesOf(`  - { name: a, host: h, cluster: true, clusterRefresh: 10ms }\n`);
    assert.equal(tooFast.length, 1);
    assert.match(tooFast[0] ?? '', /^targets\[0\]\.clusterRefresh: must be at least 1000ms/);
    assert.deepEqual(issuesOf(`  - { name: a, host: h, cluster: "yes" }\n`), ['targets[0].cluster: must be true or false']);
  });
});
