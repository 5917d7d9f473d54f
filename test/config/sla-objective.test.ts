import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load-config.ts';
import { ConfigError } from '../../src/config/config-error.ts';

const sources = { env: {}, readFile: (): string => '', baseDir: '/' };

function issuesOf(yaml: string): readonly string[] {
  try {
    parseConfig(yaml, sources);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues;
  }
  assert.fail('should not validate');
}

describe('config: sla.objective', () => {
  it('defaults to 99.9 %, is inherited from defaults, overridden per target, and resolved as a ratio', () => {
    const plain = parseConfig('targets: [{ name: a, host: h }]', sources);
    assert.deepEqual(plain.targets[0]?.sla, { objective: 0.999 });
    const config = parseConfig(
      'defaults: { sla: { objective: 99.95 } }\ntargets: [{ name: a, host: h }, { name: b, host: h, sla: { objective: 99.99 } }]',
      sources,
    );
    assert.deepEqual(
      config.targets.map((t) => [t.name, t.sla.objective]),
      [
        ['a', 0.9995],
        ['b', 0.9999],
      ],
    );
  });

  it('rejects a ratio, 100 and anything not a number, naming the field and the fix', () => {
    assert.match(
      issuesOf('targets: [{ name: a, host: h, sla: { objective: 0.999 } }]').join('\n'),
      /targets\[0\]\.sla\.objective.*percentage.*not a ratio like 0\.999/,
    );
    assert.match(issuesOf('defaults: { sla: { objective: 100 } }\ntargets: [{ name: a, host: h }]').join('\n'), /defaults\.sla\.objective.*below 100/);
    assert.match(issuesOf('targets: [{ name: a, host: h, sla: { objective: "99.9%" } }]').join('\n'), /sla\.objective.*percentage such as 99\.9/);
    assert.match(issuesOf('targets: [{ name: a, host: h, sla: { target: 99.9 } }]').join('\n'), /sla/);
  });
});
