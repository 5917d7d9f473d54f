/**
 * Renders k8s/base and every overlay with `kubectl kustomize` (kustomize built into
 * kubectl) and checks the output. Skipped, with the reason, where kubectl is missing:
 * manifests.test.ts checks the same files without it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { isK8sObject, kustomizationDirs, validateObject } from './manifests.ts';
import type { K8sObject } from './manifests.ts';
import { DEFAULT_PARAMETERS } from '../../scripts/gen-rules.ts';
import { loadYamlDocs } from './manifests.ts';
import { AZURE_OVERLAY_DIR, BASE_DIR, CONFIG_MAP_KEY, CONFIG_MAP_NAME, DASHBOARD_FILE, K8S_DIR, configMapConfigPath } from './paths.ts';

const kubectl = process.env['KUBECTL'] ?? 'kubectl';
const kubectlProbe = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' });
const skip = kubectlProbe.error || kubectlProbe.status !== 0 ? `${kubectl} not available: kustomize rendering not checked` : false;

function render(dir: string): K8sObject[] {
  const result = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `kubectl kustomize ${path.relative(K8S_DIR, dir)} failed:\n${result.stderr}`);
  return YAML.parseAllDocuments(result.stdout).map((doc) => {
    const object: unknown = doc.toJS();
    assert.ok(isK8sObject(object));
    return object;
  });
}

const NAMESPACED_KINDS = new Set(['Namespace']);

describe('kustomize rendering', { skip, timeout: 120_000 }, () => {
  const overlays = kustomizationDirs().filter((d) => d.startsWith(path.join(K8S_DIR, 'overlays') + path.sep));

  it('base and every overlay render and every rendered object validates', () => {
    for (const dir of [BASE_DIR, ...overlays]) {
      const objects = render(dir);
      assert.ok(objects.length > 0);
      for (const object of objects) {
        assert.doesNotThrow(() => validateObject(object), `${path.relative(K8S_DIR, dir)}: ${object.kind} ${object.metadata.name}`);
        if (!NAMESPACED_KINDS.has(object.kind)) {
          assert.equal(object.metadata.namespace, 'redis-probe', `${object.kind} ${object.metadata.name} namespace`);
        }
      }
    }
  });

  it('base: the ConfigMap holds config.yaml byte for byte and the Deployment mounts that generated ConfigMap', () => {
    const objects = render(BASE_DIR);
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${CONFIG_MAP_NAME}-`));
    assert.equal(configMaps.length, 1);
    const configMap = configMaps[0] as K8sObject & { data: Record<string, string> };
    assert.deepEqual(Object.keys(configMap.data), [CONFIG_MAP_KEY]);
    assert.equal(configMap.data[CONFIG_MAP_KEY], readFileSync(configMapConfigPath(), 'utf8'));

    const deployment = objects.find((o) => o.kind === 'Deployment') as K8sObject & {
      spec: { template: { spec: { volumes: { name: string; configMap?: { name: string } }[] } } };
    };
    const names = deployment.spec.template.spec.volumes.flatMap((v) => (v.configMap ? [v.configMap.name] : []));
    assert.deepEqual(names, [configMap.metadata.name]);
  });

  it('base: ships the dashboard ConfigMap for the Grafana sidecar and the PrometheusRule', () => {
    const objects = render(BASE_DIR);
    const dashboard = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.labels?.['grafana_dashboard'] === '1') as
      (K8sObject & { data: Record<string, string> }) | undefined;
    assert.ok(dashboard, 'a ConfigMap labelled grafana_dashboard: "1"');
    assert.equal(dashboard.data['redis-probe-dashboard.json'], readFileSync(DASHBOARD_FILE, 'utf8'));
    assert.ok(objects.some((o) => o.apiVersion === 'monitoring.coreos.com/v1' && o.kind === 'PrometheusRule'));
    assert.ok(objects.some((o) => o.apiVersion === 'monitoring.coreos.com/v1' && o.kind === 'ServiceMonitor'));
  });

  it('overlays/azure-managed-prometheus: no prometheus-operator kinds remain, an azmonitoring PodMonitor scrapes', () => {
    const objects = render(AZURE_OVERLAY_DIR);
    assert.deepEqual(
      objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/')).map((o) => o.kind),
      [],
    );
    const monitors = objects.filter((o) => o.apiVersion === 'azmonitoring.coreos.com/v1');
    assert.deepEqual(
      monitors.map((o) => o.kind),
      ['PodMonitor'],
    );
    assert.ok(objects.some((o) => o.kind === 'Deployment'));
  });

  it("components/alert-links: an overlay's runbookUrl and dashboardUrl replace the repository paths in every alert, anchors and queries kept", () => {
    const componentDir = path.join(K8S_DIR, 'components/alert-links');
    const overlay = mkdtempSync(path.join(tmpdir(), 'redis-probe-alert-links-'));
    try {
      const [example] = loadYamlDocs(path.join(componentDir, 'alert-links.example.yaml')) as K8sObject[];
      const links = {
        runbookUrl: 'https://git.example.com/ops/redis-probe/blob/v2/docs/runbook.md',
        dashboardUrl: 'https://grafana.example.com/d/redis-probe/redis-probe',
      };
      writeFileSync(path.join(overlay, 'alert-links.yaml'), YAML.stringify({ ...example, data: links }));
      writeFileSync(
        path.join(overlay, 'kustomization.yaml'),
        YAML.stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: [path.relative(overlay, BASE_DIR), 'alert-links.yaml'],
          components: [path.relative(overlay, componentDir)],
        }),
      );
      const annotationsOf = (objects: K8sObject[]): { alert: string; runbook_url?: string; dashboard_url?: string }[] => {
        const rule = objects.find((o) => o.kind === 'PrometheusRule') as K8sObject & {
          spec: { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] };
        };
        return rule.spec.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined).map((r) => ({ alert: r.alert!, ...r.annotations })));
      };
      const before = annotationsOf(render(BASE_DIR));
      const after = annotationsOf(render(overlay));
      assert.ok(before.length > 10);
      assert.equal(after.length, before.length);
      for (const [i, alert] of before.entries()) {
        const changed = after[i]!;
        assert.ok(alert.runbook_url?.startsWith(`${DEFAULT_PARAMETERS.runbookUrl}#`), `${alert.alert}: ${alert.runbook_url}`);
        assert.equal(changed.runbook_url, alert.runbook_url!.replace(DEFAULT_PARAMETERS.runbookUrl, links.runbookUrl), alert.alert);
        assert.ok(alert.dashboard_url?.startsWith(DEFAULT_PARAMETERS.dashboardUrl), `${alert.alert}: ${alert.dashboard_url}`);
        assert.equal(changed.dashboard_url, alert.dashboard_url!.replace(DEFAULT_PARAMETERS.dashboardUrl, links.dashboardUrl), alert.alert);
      }
      assert.ok(after.some((a) => a.dashboard_url === `${links.dashboardUrl}?var-target={{ $labels.target }}`));
      // The parameters ConfigMap is local to kustomize: it is never applied.
      assert.ok(!render(overlay).some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'redis-probe-alert-links'));
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });
});
