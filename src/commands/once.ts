import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { systemClock } from '../shared/clock.ts';
import type { DaemonConfig } from '../config/types.ts';
import { createCredential } from '../credentials/credential-factory.ts';
import { tokenTelemetry } from '../daemon/token-telemetry.ts';
import type { Logger } from '../logging/logger.ts';
import { formatOnceReport } from '../probe/once-report.ts';
import { createTargetRunner } from '../daemon/target-runner.ts';
import type { SecretRedactor } from '../shared/secrets.ts';
import { EXIT_CONFIG, EXIT_OK, EXIT_OUTPUT, EXIT_TARGET_FAILED } from './exit-codes.ts';

/** `redis-probe once`: one cycle per target (or the one named), printed like the quickstart. */
export async function onceCommand(config: DaemonConfig, targetName: string | undefined, redactor: SecretRedactor, logger: Logger): Promise<number> {
  const targets = targetName === undefined ? config.targets : config.targets.filter((target) => target.name === targetName);
  if (targets.length === 0) {
    process.stderr.write(`redis-probe: no target named "${targetName ?? ''}" (known: ${config.targets.map((t) => t.name).join(', ')})\n`);
    return EXIT_CONFIG;
  }
  const needed = new Set(targets.flatMap((target) => (target.credential ? [target.credential] : [])));
  const credentials = new Map(
    config.credentials
      .filter((credentialConfig) => needed.has(credentialConfig.name))
      .map((credentialConfig) => [
        credentialConfig.name,
        createCredential(credentialConfig, {
          redactor,
          clock: systemClock,
          random: Math.random,
          tokenObserver: () => tokenTelemetry(undefined, logger),
        }),
      ]),
  );
  await Promise.all([...credentials.values()].map((credential) => credential.ready()));
  const instanceId = `${hostname()}-once`;
  const reports = await Promise.all(
    targets.map(async (target) => {
      const credential = target.credential ? credentials.get(target.credential) : undefined;
      const runner = createTargetRunner(target, {
        clock: systemClock,
        ...(credential ? { credential } : {}),
        instanceId,
        randomValue: randomUUID,
        redactor,
        listClients: true,
      });
      const results = await runner.run('manual');
      await runner.close();
      let principal: string | undefined;
      try {
        principal = credential?.current().username;
      } catch {
        principal = undefined;
      }
      // A cluster yields one result per primary, each reported on its own.
      return results.map((result) => ({ result, text: formatOnceReport(target, result, principal) }));
    }),
  ).then((perTarget) => perTarget.flat());
  for (const credential of credentials.values()) credential.close();
  try {
    await writeStdout(`${reports.map((report) => redactor.redact(report.text)).join('\n\n')}\n`);
  } catch (error) {
    process.stderr.write(`redis-probe: could not write the report to stdout: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    return EXIT_OUTPUT;
  }
  return reports.every((report) => report.result.success) ? EXIT_OK : EXIT_TARGET_FAILED;
}

/** Resolves once stdout has taken `text`; rejects when it cannot (a closed pipe: EPIPE). */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // The stream also emits the error, after the callback: unheard, that would be an uncaught exception.
    const onError = (error: Error): void => reject(error);
    process.stdout.on('error', onError);
    process.stdout.write(text, (error) => {
      if (error) {
        reject(error);
        return;
      }
      process.stdout.off('error', onError);
      resolve();
    });
  });
}
