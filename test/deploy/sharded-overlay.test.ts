/**
 * k8s/overlays/sharded: the base Deployment turned into a StatefulSet whose pods each probe their
 * share of the targets. Rendered with `kubectl kustomize` where kubectl exists; the patch itself is
 * checked either way.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseConfig } from '../../src/config/load-config.ts';
import { ownedTargets } from '../../src/config/shard.ts';
import { podSecurityProblems } from './manifest-checks.ts';
import type { PodSpec } from './manifest-checks.ts';
import { isK8sObject, validateObject } from './manifests.ts';
import type { K8sObject } from './manifests.ts';
import { K8S_DIR, configMapConfigPath } from './paths.ts';

const OVERLAY_DIR = path.join(K8S_DIR, 'overlays/sharded');
const kubectl = process.env['KUBECTL'] ?? 'kubectl';
const kubectlProbe = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' });
const skip = kubectlProbe.error || kubectlProbe.status !== 0 ? `${kubectl} not available: the sharded overlay is not rendered` : false;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface StatefulSetSpec {
  replicas: number;
  serviceName: string;
  podManagementPolicy?: string;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}

type ContainerWithEnv = PodSpec['containers'][number] & { env?: EnvVar[] };

function render(): K8sObject[] {
  const result = spawnSync(kubectl, ['kustomize', OVERLAY_DIR], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `kubectl kustomize overlays/sharded failed:\n${result.stderr}`);
  return YAML.parseAllDocuments(result.stdout).map((doc) => {
    const object: unknown = doc.toJS();
    assert.ok(isK8sObject(object));
    return object;
  });
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

describe('overlays/sharded (static)', () => {
  it('the patch keeps replicas and REDIS_PROBE_SHARD_COUNT equal and takes the index from the pod ordinal', () => {
    const patch = YAML.parse(readFileSync(path.join(OVERLAY_DIR, 'statefulset-patch.yaml'), 'utf8')) as { op: string; path: string; value: unknown }[];
    const replicas = patch.find((op) => op.path === '/spec/replicas')?.value;
    const env = patch.filter((op) => op.path.endsWith('/env/-')).map((op) => op.value as EnvVar);
    assert.equal(env.find((entry) => entry.name === 'REDIS_PROBE_SHARD_COUNT')?.value, String(replicas));
    assert.equal(
      env.find((entry) => entry.name === 'REDIS_PROBE_SHARD_INDEX')?.valueFrom?.fieldRef?.fieldPath,
      "metadata.labels['apps.kubernetes.io/pod-index']",
    );
    assert.equal(patch.find((op) => op.path === '/kind')?.value, 'StatefulSet');
  });

  it('the shipped config validates on every shard, and the shards split its targets', () => {
    const text = readFileSync(configMapConfigPath(), 'utf8');
    const owners = [0, 1, 2].map((index) => {
      const config = parseConfig(text, {
        env: { REDIS_PROBE_SHARD_INDEX: String(index), REDIS_PROBE_SHARD_COUNT: '3' },
        readFile: () => 'x',
        baseDir: path.dirname(configMapConfigPath()),
      });
      assert.deepEqual(config.shard, { index, count: 3, source: 'env' });
      return ownedTargets(config.targets, config.shard).map((target) => target.name);
    });
    const all = owners.flat();
    assert.equal(new Set(all).size, all.length, 'no target on two shards');
  });
});

describe('overlays/sharded (rendered)', { skip, timeout: 60_000 }, () => {
  it('renders a valid StatefulSet with a headless governing Service, and no Deployment', () => {
    const objects = render();
    for (const object of objects) {
      assert.doesNotThrow(() => validateObject(object), `${object.kind} ${object.metadata.name}`);
      if (object.kind !== 'Namespace') assert.equal(object.metadata.namespace, 'redis-probe', `${object.kind} ${object.metadata.name}`);
    }
    assert.deepEqual(
      objects.filter((o) => o.kind === 'Deployment'),
      [],
    );
    const sets = objects.filter((o) => o.kind === 'StatefulSet');
    assert.equal(sets.length, 1);
    const spec = sets[0]!['spec'] as StatefulSetSpec;
    assert.ok(spec.replicas > 1);
    assert.equal(spec.podManagementPolicy, 'Parallel');
    assert.deepEqual(podSecurityProblems(spec.template.spec), []);
    const container = spec.template.spec.containers.find((c) => c.name === 'redis-probe') as ContainerWithEnv;
    assert.equal(container.env?.find((entry) => entry.name === 'REDIS_PROBE_SHARD_COUNT')?.value, String(spec.replicas));
    assert.ok(container.env?.some((entry) => entry.name === 'REDIS_PROBE_SHARD_INDEX' && entry.valueFrom?.fieldRef));

    const headless = objects.find((o) => o.kind === 'Service' && o.metadata.name === spec.serviceName) as
      (K8sObject & { spec: { clusterIP?: string; selector: Record<string, string> } }) | undefined;
    assert.ok(headless, `the governing Service ${spec.serviceName}`);
    assert.equal(headless.spec.clusterIP, 'None');
    assert.ok(matches(headless.spec.selector, spec.template.metadata.labels), 'it selects the pods');

    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('redis-probe-config-'));
    assert.ok(
      spec.template.spec.volumes?.some((volume) => volume.configMap?.name === configMap?.metadata.name),
      'mounts the generated ConfigMap',
    );
  });

  it('the ServiceMonitor still scrapes each pod once: it does not select the headless Service', () => {
    const objects = render();
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } };
    const selected = objects.filter((o) => o.kind === 'Service' && matches(monitor.spec.selector.matchLabels, o.metadata.labels));
    assert.deepEqual(
      selected.map((o) => o.metadata.name),
      ['redis-probe'],
    );
  });
});
