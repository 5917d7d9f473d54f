import type { TargetConfig } from '../config/types.ts';
import { roundMs } from '../shared/probe-result.ts';
import type { CycleResult } from '../shared/probe-result.ts';

/** Renders a cycle the way Microsoft's Azure Redis quickstart prints its checks, then a summary. */
export function formatOnceReport(target: TargetConfig, result: CycleResult, principal?: string): string {
  const endpoint = result.node !== undefined ? `node ${result.node} of ${target.host}:${target.port}` : `${target.host}:${target.port}`;
  const lines = [`== ${target.name} (${endpoint}, tls ${target.tls.enabled ? 'on' : 'off'})`];
  if (principal !== undefined) lines.push(`Authenticated as : ${principal}`);
  const done = new Set(result.steps.map((timing) => timing.step));
  const failedAt = result.failure?.step;
  const verdict = (step: CycleResult['steps'][number]['step']) => (done.has(step) ? 'True' : 'False');
  const { observations } = result;
  for (const step of target.steps) {
    if (!done.has(step) && failedAt !== step && !result.unsupportedSteps.includes(step)) continue;
    switch (step) {
      case 'ping':
        lines.push(`Ping returned : ${verdict('ping')}`);
        break;
      case 'set':
        lines.push(`SET Message returned : ${verdict('set')}`);
        break;
      case 'get':
        lines.push(`GET Message returned : ${observations.getValue ?? (done.has('get') ? '(nil)' : 'False')}`);
        break;
      case 'client_list':
        if (result.unsupportedSteps.includes('client_list')) {
          lines.push('CLIENT LIST returned : not permitted for this user (reported as unsupported, not a failure)');
          break;
        }
        lines.push('CLIENT LIST returned :');
        for (const client of observations.clients ?? []) lines.push(`id : ${client.id}, addr : ${client.addr}`);
        break;
    }
  }
  const timings = result.steps.map((timing) => `${timing.step} ${roundMs(timing.durationMs)} ms`).join(', ');
  if (result.failure) {
    lines.push(`FAILED at ${result.failure.step}: ${result.failure.reason} (${result.failure.message})`);
  }
  const clients = observations.clientCount !== undefined ? `, ${observations.clientCount} clients` : '';
  lines.push(`Summary: ${target.name} ${result.success ? 'OK' : 'FAILED'} in ${roundMs(result.durationMs)} ms${timings ? ` (${timings})` : ''}${clients}`);
  return lines.join('\n');
}
