import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { systemClock } from '../shared/clock.ts';
import { loadConfig, parseConfig } from '../config/load-config.ts';
import { ConfigError } from '../config/config-error.ts';
import type { ConfigSources } from '../config/load-config.ts';
import type { DaemonConfig } from '../config/types.ts';
import { createSecretRedactor } from '../shared/secrets.ts';
import { adHocConfigText, DOCTOR_USAGE, issueInFlags, parseDoctorArgs, UsageError } from './args.ts';
import { diagnoseTarget } from './diagnose.ts';
import { formatJson, formatText } from './format.ts';

/** Where doctor reads and writes; the CLI passes the process's own. */
export interface DoctorIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths of ad hoc flags (--ca, --password-file) resolve against it. */
  readonly cwd: string;
}

export const DOCTOR_EXIT = { ok: 0, layerFailed: 1, usage: 2 } as const;

/** `redis-probe doctor ...`: resolves to the exit code (0 every layer passed, 1 a layer failed, 2 usage or config error). */
export async function runDoctor(argv: readonly string[], io: DoctorIo): Promise<number> {
  let config: DaemonConfig;
  let args;
  try {
    args = parseDoctorArgs(argv, io.env);
    if (args.kind === 'help') {
      io.stdout.write(`${DOCTOR_USAGE}\n`);
      return DOCTOR_EXIT.ok;
    }
    const sources: ConfigSources = { env: io.env, readFile: (path) => readFileSync(path, 'utf8'), hostname: () => hostname() };
    if (args.kind === 'config') {
      config = loadConfig(args.configPath, sources);
    } else {
      try {
        config = parseConfig(adHocConfigText(args.adhoc), { ...sources, baseDir: io.cwd });
      } catch (error) {
        throw error instanceof ConfigError ? new ConfigError(error.issues.map(issueInFlags)) : error;
      }
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`redis-probe doctor: ${error.message}\n\n${DOCTOR_USAGE}\n`);
      return DOCTOR_EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`redis-probe doctor: ${error.message}\n`);
      return DOCTOR_EXIT.usage;
    }
    throw error;
  }

  const wanted = args.kind === 'config' ? args.target : undefined;
  const targets = wanted === undefined ? config.targets : config.targets.filter((target) => target.name === wanted);
  if (targets.length === 0) {
    io.stderr.write(`redis-probe doctor: no target named "${wanted ?? ''}" (known: ${config.targets.map((target) => target.name).join(', ')}); fix --target\n`);
    return DOCTOR_EXIT.usage;
  }

  const redactor = createSecretRedactor();
  const deps = { clock: systemClock, redactor, instanceId: `${hostname()}-doctor`, randomValue: randomUUID, random: Math.random };
  // One target after another: the output reads in order, and each target's timings are its own.
  const reports = [];
  for (const target of targets) {
    const credential = target.credential === undefined ? undefined : config.credentials.find((entry) => entry.name === target.credential);
    reports.push(await diagnoseTarget(target, credential, deps));
  }
  const text = args.format === 'json' ? formatJson(reports) : formatText(reports);
  // Every secret doctor handled (keys, tokens, client secrets) is known to the redactor: a last pass over everything printed.
  io.stdout.write(redactor.redact(text));
  return reports.every((report) => report.ok) ? DOCTOR_EXIT.ok : DOCTOR_EXIT.layerFailed;
}
