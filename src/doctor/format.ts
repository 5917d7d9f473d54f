import type { TargetReport } from './report.ts';

/** The JSON shape of issue 17: `{"targets": [{"target", "ok", "failed_layer", "layers": [...]}]}`. */
export function formatJson(reports: readonly TargetReport[]): string {
  return `${JSON.stringify(
    {
      targets: reports.map((report) => ({
        target: report.target,
        ok: report.ok,
        failed_layer: report.failedLayer,
        layers: report.layers.map((layer) => ({ layer: layer.layer, status: layer.status, ms: layer.ms, detail: layer.detail, hint: layer.hint })),
      })),
    },
    null,
    2,
  )}\n`;
}

const LAYER_WIDTH = 12;
const STATUS_WIDTH = 12;
const MS_WIDTH = 9;

/** One block per target, one line per layer, a hint under the layer it explains: fit for a terminal and a support ticket. */
export function formatText(reports: readonly TargetReport[]): string {
  const blocks = reports.map((report) => {
    const lines = [`target ${report.target} (${report.endpoint})`];
    for (const layer of report.layers) {
      const ms = layer.ms === null ? '' : `${layer.ms < 10 ? layer.ms.toFixed(1) : Math.round(layer.ms)} ms`;
      lines.push(`  ${layer.layer.padEnd(LAYER_WIDTH)}${layer.status.padEnd(STATUS_WIDTH)}${ms.padStart(MS_WIDTH)}  ${layer.detail}`.trimEnd());
      if (layer.hint !== null) lines.push(`  ${''.padEnd(LAYER_WIDTH)}hint: ${layer.hint}`);
    }
    lines.push(report.ok ? '  => every layer passed' : `  => FAILED at ${report.failedLayer ?? '?'}`);
    return lines.join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
