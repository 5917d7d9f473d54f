import type { DaemonConfig } from './types.ts';

/**
 * Azure Monitor managed Prometheus's own per-series limits. The PodMonitor of the
 * azure-managed-prometheus overlay sets the same values, so a series past them fails its scrape
 * visibly instead of being dropped silently at ingestion.
 */
export const AZURE_MANAGED_PROMETHEUS_LIMITS = { labelLimit: 63, labelNameLengthLimit: 511, labelValueLengthLimit: 1023 } as const;

/** Labels a scrape adds to every series (PodMonitor/ServiceMonitor target labels), counted against the limit. */
const SCRAPE_LABELS = ['job', 'instance', 'namespace', 'pod', 'container', 'endpoint'] as const;
/** The labels redis_probe_target_info has besides the targets' own, plus __name__. */
const TARGET_INFO_LABELS = ['__name__', 'target', 'host', 'port', 'tls'] as const;

/**
 * What in the config would pass those limits, each as `field: what; fix`. Targets' labels all land on
 * one series family, redis_probe_target_info, whose label set is the union of every target's labels.
 */
export function labelLimitWarnings(config: DaemonConfig): string[] {
  const { labelLimit, labelNameLengthLimit, labelValueLengthLimit } = AZURE_MANAGED_PROMETHEUS_LIMITS;
  const warnings: string[] = [];
  const userLabels = new Set<string>();
  config.targets.forEach((target, index) => {
    for (const [name, value] of Object.entries(target.labels)) {
      userLabels.add(name);
      if (name.length > labelNameLengthLimit) {
        warnings.push(
          `targets[${index}].labels: the label name "${name.slice(0, 40)}…" is ${name.length} characters, over Azure managed Prometheus's labelNameLengthLimit of ${labelNameLengthLimit}; shorten it`,
        );
      }
      if (value.length > labelValueLengthLimit) {
        warnings.push(
          `targets[${index}].labels.${name}: the value is ${value.length} characters, over Azure managed Prometheus's labelValueLengthLimit of ${labelValueLengthLimit}; shorten it`,
        );
      }
    }
    if (target.host.length > labelValueLengthLimit) {
      warnings.push(
        `targets[${index}].host: ${target.host.length} characters, over Azure managed Prometheus's labelValueLengthLimit of ${labelValueLengthLimit} (it is the host label)`,
      );
    }
  });
  const total = TARGET_INFO_LABELS.length + SCRAPE_LABELS.length + (config.location !== undefined ? 1 : 0) + userLabels.size;
  if (total > labelLimit) {
    warnings.push(
      `targets[*].labels: redis_probe_target_info would carry ${total} labels (${userLabels.size} distinct target label names across all targets, ` +
        `plus ${[...TARGET_INFO_LABELS, ...(config.location !== undefined ? ['location'] : []), ...SCRAPE_LABELS].join(', ')}), ` +
        `over Azure managed Prometheus's labelLimit of ${labelLimit}; the scrape would fail. Use at most ${labelLimit - total + userLabels.size} distinct label names`,
    );
  }
  return warnings;
}
