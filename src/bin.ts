#!/usr/bin/env node
/**
 * The `redis-probe` command: package.json's bin, `npm start` and the image's ENTRYPOINT. It replaces
 * itself with `node <memory settings> cli.js <args>`, so the daemon's footprint does not depend on
 * how it was started: MALLOC_ARENA_MAX is read by glibc when a process starts and the V8 flags when
 * the heap is set up, so neither can be applied from inside the running CLI.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchCommand } from './commands/memory-settings.ts';

const self = fileURLToPath(import.meta.url);
// dist/bin.js runs dist/cli.js; src/bin.ts (Node's type stripping) runs src/cli.ts.
const cli = join(dirname(self), `cli${extname(self)}`);
const command = launchCommand(cli, process.argv.slice(2), process.execArgv, process.env);

if (typeof process.execve === 'function') {
  // The same process from here on: its id, signals, stdio and exit code are the CLI's own.
  process.execve(process.execPath, [process.execPath, ...command.args], command.env);
} else {
  // No execve (Windows): run the CLI as a child with the same stdio, pass on the signals aimed at this
  // process, and end as the child ends.
  const child = spawn(process.execPath, command.args, { stdio: 'inherit', env: command.env });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  // Ctrl-C reaches the child directly (same process group, same console); passing it on as well would
  // be a second signal, which makes the daemon skip its graceful shutdown.
  const ignore = () => undefined;
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  process.on('SIGINT', ignore);
  child.on('error', (error) => {
    process.stderr.write(`redis-probe: cannot start ${process.execPath}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.off('SIGTERM', forward);
    process.off('SIGHUP', forward);
    process.off('SIGINT', ignore);
    if (signal === null) {
      process.exitCode = code ?? 1;
      return;
    }
    // End by the same signal, as a shell reports it; the code stands if that signal is ignored here.
    process.exitCode = 128 + constants.signals[signal];
    process.kill(process.pid, signal);
  });
}
