/**
 * A program that crashes the way a forgotten error path would, with the CLI's crash handler installed: an
 * ioredis AUTH error (which carries the password in `command.args`) escapes to the event loop, either
 * thrown from a node-style callback or as a rejection nobody handles. Spawned by cli.test.ts.
 *
 * argv: PORT USERNAME PASSWORD thrown|rejected
 */
import { Redis } from 'ioredis';
import { installCrashHandler } from '../../src/cli.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { createSecretRedactor } from '../../src/shared/secrets.ts';

const [port, username, password, how] = process.argv.slice(2);
if (port === undefined || username === undefined || password === undefined) throw new Error('usage: crash-child.ts PORT USERNAME PASSWORD thrown|rejected');
// What `run` does: the configured key is known to the redactor, the logger writes JSON lines to stdout.
const redactor = createSecretRedactor();
redactor.add(password);
installCrashHandler({ redactor, logger: createLogger({ level: 'info', format: 'json', redactor }) });
const client = new Redis({ host: '127.0.0.1', port: Number(port), username, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
client.on('error', () => undefined);
if (how === 'rejected') void client.ping();
else
  // The callback's throw is the crash under test; the promise ioredis also returns is not.
  void client.ping((error) => {
    if (error) throw error;
  });
