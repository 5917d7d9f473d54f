import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UnexpectedReplyError } from '../../src/probe/classify-error.ts';
import { formatAddress, parseAddress } from '../../src/shared/address.ts';
import { parseClusterShards, parseClusterSlots } from '../../src/cluster/discover.ts';

const plain = { tls: false, connectedHost: 'seed.example' };
const tls = { tls: true, connectedHost: 'seed.example' };

/** One CLUSTER SHARDS node as RESP2 delivers it: a flat key/value list. */
function node(fields: Record<string, string | number>): (string | number)[] {
  return Object.entries(fields).flat();
}

// The shape redis-server 7.0 answers (recorded from the test cluster), trimmed to what matters.
const SHARDS = [
  [
    'slots',
    [10923, 16383],
    'nodes',
    [
      node({ id: 'c'.repeat(40), port: 7002, ip: '10.0.0.3', endpoint: '10.0.0.3', role: 'master', 'replication-offset': 0, health: 'online' }),
      node({ id: 'f'.repeat(40), port: 7005, ip: '10.0.0.6', endpoint: '10.0.0.6', role: 'replica', 'replication-offset': 0, health: 'online' }),
    ],
  ],
  ['slots', [0, 5460], 'nodes', [node({ id: 'a'.repeat(40), port: 7000, ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'online' })]],
  ['slots', [5461, 10922], 'nodes', [node({ id: 'b'.repeat(40), port: 7001, ip: '10.0.0.2', endpoint: '10.0.0.2', role: 'master', health: 'online' })]],
];

describe('CLUSTER SHARDS parsing', () => {
  it('lists each primary with its slots, ordered by first slot', () => {
    const topology = parseClusterShards(SHARDS, plain);
    assert.equal(topology.source, 'shards');
    assert.deepEqual(
      topology.primaries.map((primary) => [formatAddress(primary), primary.slots, primary.health, primary.id?.[0]]),
      [
        ['10.0.0.1:7000', [{ start: 0, end: 5460 }], 'online', 'a'],
        ['10.0.0.2:7001', [{ start: 5461, end: 10922 }], 'online', 'b'],
        ['10.0.0.3:7002', [{ start: 10923, end: 16383 }], 'online', 'c'],
      ],
    );
  });

  it('takes the TLS port on a TLS connection and the plain one otherwise', () => {
    const reply = [
      [
        'slots',
        [0, 16383],
        'nodes',
        [node({ id: 'a'.repeat(40), port: 6379, 'tls-port': 6380, ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'online' })],
      ],
    ];
    assert.equal(parseClusterShards(reply, tls).primaries[0]?.port, 6380);
    assert.equal(parseClusterShards(reply, plain).primaries[0]?.port, 6379);
    const tlsOnly = [
      ['slots', [0, 16383], 'nodes', [node({ id: 'a'.repeat(40), 'tls-port': 15000, ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'online' })]],
    ];
    assert.equal(parseClusterShards(tlsOnly, tls).primaries[0]?.port, 15000);
  });

  it('prefers the announced endpoint (a hostname), and reads "?" as the host that was asked', () => {
    const reply = [
      [
        'slots',
        [0, 8191],
        'nodes',
        [
          node({
            id: 'a'.repeat(40),
            port: 7000,
            ip: '10.0.0.1',
            endpoint: 'shard-0.cache.example',
            hostname: 'shard-0.cache.example',
            role: 'master',
            health: 'online',
          }),
        ],
      ],
      ['slots', [8192, 16383], 'nodes', [node({ id: 'b'.repeat(40), port: 7001, ip: '10.0.0.2', endpoint: '?', role: 'master', health: 'online' })]],
    ];
    assert.deepEqual(parseClusterShards(reply, plain).primaries.map(formatAddress), ['shard-0.cache.example:7000', 'seed.example:7001']);
  });

  it('skips a failed ex-primary left without slots, and picks the healthy primary of a shard mid-failover', () => {
    const reply = [
      ['slots', [], 'nodes', [node({ id: 'a'.repeat(40), port: 7000, ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'fail' })]],
      [
        'slots',
        [0, 16383],
        'nodes',
        [
          node({ id: 'd'.repeat(40), port: 7003, ip: '10.0.0.4', endpoint: '10.0.0.4', role: 'master', health: 'failed' }),
          node({ id: 'e'.repeat(40), port: 7004, ip: '10.0.0.5', endpoint: '10.0.0.5', role: 'master', health: 'online' }),
        ],
      ],
    ];
    assert.deepEqual(parseClusterShards(reply, plain).primaries.map(formatAddress), ['10.0.0.5:7004']);
  });

  it('keeps probing a failed primary that still owns its slots (before a replica takes over)', () => {
    const reply = [
      ['slots', [0, 16383], 'nodes', [node({ id: 'a'.repeat(40), port: 7000, ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'fail' })]],
    ];
    assert.equal(parseClusterShards(reply, plain).primaries[0]?.health, 'failed');
  });

  it('merges a primary with several slot ranges', () => {
    const reply = [
      [
        'slots',
        [9000, 9999, 0, 99],
        'nodes',
        [node({ id: 'a'.repeat(40), port: 7000, ip: '10.0.0.1', endpoint: '10.0.0.1', role: 'master', health: 'online' })],
      ],
    ];
    assert.deepEqual(parseClusterShards(reply, plain).primaries[0]?.slots, [
      { start: 0, end: 99 },
      { start: 9000, end: 9999 },
    ]);
  });

  it('rejects malformed replies as unexpected replies', () => {
    for (const reply of [
      'OK',
      [['slots']],
      [['slots', [0], 'nodes', []]],
      [['slots', [0, 99999], 'nodes', []]],
      [['slots', [0, 10], 'nodes', [node({ id: 'a', ip: '10.0.0.1', role: 'master' })]]],
      [],
    ]) {
      assert.throws(() => parseClusterShards(reply, plain), UnexpectedReplyError, JSON.stringify(reply));
    }
  });
});

describe('CLUSTER SLOTS parsing (Redis before 7)', () => {
  it('groups ranges by primary and ignores replicas', () => {
    const reply = [
      [0, 5460, ['10.0.0.1', 15000, 'a'.repeat(40), []], ['10.0.0.4', 15003, 'd'.repeat(40), []]],
      [5461, 10922, ['10.0.0.2', 15001, 'b'.repeat(40), []]],
      [10923, 16383, ['10.0.0.1', 15000, 'a'.repeat(40), []]],
    ];
    const topology = parseClusterSlots(reply, tls);
    assert.equal(topology.source, 'slots');
    assert.deepEqual(
      topology.primaries.map((primary) => [formatAddress(primary), primary.slots, primary.health]),
      [
        [
          '10.0.0.1:15000',
          [
            { start: 0, end: 5460 },
            { start: 10923, end: 16383 },
          ],
          'unknown',
        ],
        ['10.0.0.2:15001', [{ start: 5461, end: 10922 }], 'unknown'],
      ],
    );
  });

  it('reads a null or empty endpoint as the host that was asked', () => {
    const reply = [
      [0, 16383, [null, 7000, 'a'.repeat(40)]],
      [0, 0, ['', 7001]],
    ];
    assert.deepEqual(parseClusterSlots(reply, plain).primaries.map(formatAddress), ['seed.example:7000', 'seed.example:7001']);
  });

  it('rejects malformed replies', () => {
    for (const reply of [null, [[0, 1]], [[0, 1, ['10.0.0.1', 'x']]], []]) {
      assert.throws(() => parseClusterSlots(reply, plain), UnexpectedReplyError, JSON.stringify(reply));
    }
  });
});

describe('host:port addresses', () => {
  it('round-trips names, IPv4 and bracketed IPv6', () => {
    for (const text of ['cache.example.net:15000', '10.0.0.4:6380', '[fd00::4]:10000'])
      assert.equal(formatAddress(parseAddress(text) ?? { host: '', port: 0 }), text);
    assert.deepEqual(parseAddress('[::1]:7000'), { host: '::1', port: 7000 });
  });

  it('rejects what is not host:port', () => {
    for (const text of ['cache.example.net', ':6379', 'host:0', 'host:70000', 'fd00::4:1000', 'a b:1', 'host:port', ''])
      assert.equal(parseAddress(text), undefined, text);
  });
});
