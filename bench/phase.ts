/**
 * One benchmark phase in a process of its own, so CPU time and RSS belong to that phase alone.
 * Started by bench/run.ts with the phase name and its options as JSON; answers over IPC.
 */
import { accuracyPhase, costPhase, detectionPhase, footprintPhase, idlePhase, renderPhase, scalePhase } from './phases.ts';
import type { AccuracyOptions, CostOptions, DetectionOptions, FootprintOptions, IdleOptions, PhaseName, RenderOptions, ScaleOptions } from './phases.ts';
import { scrapePhase } from './scrape.ts';
import type { ScrapeOptions } from './scrape.ts';

const [phase, json] = process.argv.slice(2) as [PhaseName, string];
const options: unknown = JSON.parse(json);

// If the orchestrator dies, so do we (startRedis' exit hook then kills our redis-servers).
process.on('disconnect', () => process.exit(3));

async function main(): Promise<unknown> {
  switch (phase) {
    case 'accuracy':
      return accuracyPhase(options as AccuracyOptions);
    case 'cost':
      return costPhase(options as CostOptions);
    case 'scale':
      return scalePhase(options as ScaleOptions);
    case 'render':
      return renderPhase(options as RenderOptions);
    case 'detection':
      return detectionPhase(options as DetectionOptions);
    case 'footprint':
      return footprintPhase(options as FootprintOptions);
    case 'idle':
      return idlePhase(options as IdleOptions);
    case 'scrape':
      return scrapePhase(options as ScrapeOptions);
  }
}

main().then(
  (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
  (error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`[bench] phase ${phase} failed: ${message}\n`);
    process.send?.({ ok: false, error: message }, () => process.exit(1));
  },
);
