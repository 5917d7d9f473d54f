import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { launchCommand, MEMORY_ENV, MEMORY_NODE_FLAGS } from '../../src/commands/memory-settings.ts';

describe('launchCommand', () => {
  it("runs the script with the memory flags after the caller's node arguments, and the memory environment", () => {
    const command = launchCommand('/app/dist/cli.js', ['run', '--config', 'c.yaml'], ['--enable-source-maps'], { PATH: '/bin' });
    assert.deepEqual(command.args, ['--enable-source-maps', ...MEMORY_NODE_FLAGS, '/app/dist/cli.js', 'run', '--config', 'c.yaml']);
    assert.deepEqual(command.env, { PATH: '/bin', ...MEMORY_ENV });
  });

  it("keeps a setting the user gave on node's command line, in NODE_OPTIONS or in the environment", () => {
    const env = { NODE_OPTIONS: '--trace-warnings  --max_semi_space_size=16', MALLOC_ARENA_MAX: '8' };
    const command = launchCommand('cli.js', [], ['--heap-growing-percent=50'], env);
    assert.deepEqual(command.args, ['--heap-growing-percent=50', 'cli.js']);
    assert.deepEqual(command.env, env);
  });
});
