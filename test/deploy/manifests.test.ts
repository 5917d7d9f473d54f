import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { findOne, kustomizationDirs, loadAllManifests, loadYamlDocs, readKustomization, validateObject, yamlFilesUnder } from './manifests.ts';
import type { K8sObject } from './manifests.ts';
import { EXPECTED_UID, podSecurityProblems } from './manifest-checks.ts';
import type { Container, PodSpec } from './manifest-checks.ts';
import { AZURE_OVERLAY_DIR, BASE_DIR, CONFIG_MAP_KEY, CONFIG_MAP_NAME, FIXTURES_DIR, K8S_DIR, configMapConfigPath } from './paths.ts';

const METRICS_PORT = 9637;
const docs = loadAllManifests();
const inDir = (dir: string) => docs.filter((d) => d.file.startsWith(dir + path.sep));
const baseDocs = inDir(BASE_DIR);
const azureDocs = inDir(AZURE_OVERLAY_DIR);

interface WorkloadSpec {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
const deployment = findOne(baseDocs, 'Deployment');
const deploymentSpec = deployment['spec'] as WorkloadSpec;
const podSpec = deploymentSpec.template.spec;
const container = podSpec.containers.find((c) => c.name === 'redis-probe')!;
const probeConfig = YAML.parse(readFileSync(configMapConfigPath(), 'utf8')) as {
  server: { port: number; shutdownGrace: string };
};

function metricsContainerPort(c: Container): { name?: string; containerPort: number } {
  const port = (c.ports ?? []).find((p) => p.name === 'metrics');
  assert.ok(port, `container ${c.name} has no port named metrics`);
  return port;
}

function seconds(duration: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(duration);
  assert.ok(match, `unexpected duration ${duration}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[match[2] as 'ms' | 's' | 'm'];
}

describe('k8s manifests', { timeout: 30_000 }, () => {
  it('finds the base and the Azure overlay manifests', () => {
    const kinds = (list: typeof docs) => list.map((d) => `${d.object.apiVersion} ${d.object.kind}`).sort();
    assert.deepEqual(kinds(baseDocs), [
      'apps/v1 Deployment',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'v1 Namespace',
      'v1 Secret',
      'v1 Service',
      'v1 ServiceAccount',
    ]);
    assert.deepEqual(kinds(azureDocs), ['azmonitoring.coreos.com/v1 PodMonitor']);
  });

  it('every resource validates against the schema of its kind (azmonitoring.coreos.com as monitoring.coreos.com)', () => {
    assert.ok(docs.length > 0);
    for (const { file, object } of docs) {
      assert.doesNotThrow(() => validateObject(object), `${path.relative(K8S_DIR, file)}: ${object.kind} ${object.metadata.name}`);
    }
  });

  it('the schema validation rejects a broken object', () => {
    const broken = structuredClone(deployment);
    (broken['spec'] as WorkloadSpec).template.spec.containers[0]!.ports = [{ containerPort: 'metrics' as unknown as number }];
    assert.throws(() => validateObject(broken), /containerPort must be integer/);
    assert.throws(() => validateObject({ ...deployment, kind: 'Unicorn' }), /no schema known/);
  });

  it('every kustomization references files that exist, and every YAML file is used', () => {
    const used = new Set<string>();
    for (const dir of kustomizationDirs()) {
      const k = readKustomization(dir);
      used.add(path.join(dir, 'kustomization.yaml'));
      for (const file of [...k.resourceFiles, ...k.generatorInputs, ...k.patchFiles]) {
        assert.ok(existsSync(file), `${path.relative(K8S_DIR, dir)}/kustomization.yaml names a missing ${path.relative(dir, file)}`);
        used.add(file);
      }
      for (const sub of k.resourceDirs) {
        assert.ok(existsSync(path.join(sub, 'kustomization.yaml')), `${sub} is not a kustomization`);
      }
    }
    const unused = yamlFilesUnder(K8S_DIR).filter((f) => !used.has(f) && !f.endsWith('.example.yaml') && !f.startsWith(path.join(K8S_DIR, 'rules') + path.sep));
    assert.deepEqual(
      unused.map((f) => path.relative(K8S_DIR, f)),
      [],
    );
  });

  it('base: the namespace enforces the restricted Pod Security Standard and the kustomization targets it', () => {
    const namespace = findOne(baseDocs, 'Namespace');
    assert.equal(namespace.metadata.name, 'redis-probe');
    assert.equal(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(readKustomization(BASE_DIR).raw['namespace'], 'redis-probe');
  });

  it('base: the example Secret holds placeholders only and is not applied by the kustomization', () => {
    const secretDoc = docs.find((d) => d.object.kind === 'Secret')!;
    assert.ok(secretDoc.file.endsWith('.example.yaml'));
    assert.ok(!readKustomization(BASE_DIR).resourceFiles.includes(secretDoc.file));
    const secret = secretDoc.object as K8sObject & { stringData?: Record<string, string>; data?: Record<string, string> };
    const values = [...Object.values(secret.stringData ?? {}), ...Object.values(secret.data ?? {}).map((v) => Buffer.from(v, 'base64').toString())];
    assert.ok(values.length > 0);
    for (const value of values) assert.match(value, /REPLACE|PLACEHOLDER|EXAMPLE/i);
    // The Deployment mounts it optionally, so Entra-only setups need no Secret.
    const volume = podSpec.volumes?.find((v) => v.secret?.secretName === secret.metadata.name) as { secret: { optional?: boolean } } | undefined;
    assert.equal(volume?.secret.optional, true);
  });

  it('base: the ServiceAccount carries the workload identity client-id annotation (a placeholder)', () => {
    const sa = findOne(baseDocs, 'ServiceAccount');
    assert.equal(podSpec.serviceAccountName, sa.metadata.name);
    assert.match(sa.metadata.annotations?.['azure.workload.identity/client-id'] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(deploymentSpec.template.metadata.labels['azure.workload.identity/use'], 'true');
  });

  it('base: the pod runs non-root, read-only, without privileges or capabilities', () => {
    assert.deepEqual(podSecurityProblems(podSpec), []);
    assert.equal(podSpec.securityContext?.runAsUser, EXPECTED_UID);
    assert.equal(container.securityContext?.runAsUser ?? EXPECTED_UID, EXPECTED_UID);
    assert.notEqual(podSpec.automountServiceAccountToken, true);
  });

  it('every workload in base and the overlays (Deployment, StatefulSet) passes the same pod checks', () => {
    const workloads = docs.filter((d) => d.object.kind === 'Deployment' || d.object.kind === 'StatefulSet');
    assert.ok(workloads.length >= 1);
    for (const { file, object } of workloads) {
      const spec = (object['spec'] as WorkloadSpec).template.spec;
      assert.deepEqual(podSecurityProblems(spec), [], path.relative(K8S_DIR, file));
      assert.ok((spec.terminationGracePeriodSeconds ?? 30) > seconds(probeConfig.server.shutdownGrace), path.relative(K8S_DIR, file));
    }
  });

  it('the pod checks report every problem of an insecure Deployment', () => {
    const [insecure] = loadYamlDocs(path.join(FIXTURES_DIR, 'insecure-deployment.yaml')) as K8sObject[];
    const problems = podSecurityProblems((insecure!['spec'] as WorkloadSpec).template.spec);
    assert.deepEqual(problems, [
      'pod: securityContext.runAsNonRoot must be true',
      'pod: securityContext.runAsUser must be 10001',
      'pod: seccompProfile.type must be RuntimeDefault',
      'pod: must not share host namespaces',
      'container probe: readOnlyRootFilesystem must be true',
      'container probe: allowPrivilegeEscalation must be false',
      'container probe: must not be privileged',
      'container probe: capabilities.drop must include ALL',
      'container probe: must not add capabilities',
      'container probe: needs a seccomp profile',
      'container probe: needs a CPU request',
      'container probe: needs a memory request',
      'container probe: needs a memory limit',
    ]);
  });

  it('base: one replica with the requested resources and a scratch /tmp', () => {
    assert.equal(deploymentSpec.replicas, 1);
    assert.deepEqual(container.resources, { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '384Mi' } });
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    assert.ok(tmp);
    assert.ok(podSpec.volumes?.find((v) => v.name === tmp.name)?.emptyDir);
  });

  it('base: probes hit /healthz and /readyz on the metrics port', () => {
    assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(container.startupProbe?.httpGet?.path, '/healthz');
  });

  it('base: the termination grace period outlasts the daemon shutdown grace', () => {
    assert.equal(podSpec.terminationGracePeriodSeconds, 20);
    assert.ok(podSpec.terminationGracePeriodSeconds > seconds(probeConfig.server.shutdownGrace));
  });

  it('base: the config ConfigMap is generated from the file the helper names and mounted where the daemon reads it', () => {
    assert.equal(configMapConfigPath(), path.join(BASE_DIR, 'config.yaml'));
    const configVolume = podSpec.volumes?.find((v) => v.configMap?.name === CONFIG_MAP_NAME);
    assert.ok(configVolume, `a volume from ConfigMap ${CONFIG_MAP_NAME}`);
    const mount = container.volumeMounts?.find((m) => m.name === configVolume.name);
    assert.deepEqual(mount, { name: configVolume.name, mountPath: '/etc/redis-probe', readOnly: true });
    assert.deepEqual(container.args, ['run', '--config', `/etc/redis-probe/${CONFIG_MAP_KEY}`]);
  });

  it('ports agree: config server.port = container port = Service targetPort = scrape port = NetworkPolicy ingress', () => {
    assert.equal(probeConfig.server.port, METRICS_PORT);
    const containerPort = metricsContainerPort(container);
    assert.equal(containerPort.containerPort, METRICS_PORT);

    const service = findOne(baseDocs, 'Service') as K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] };
    };
    const servicePort = service.spec.ports.find((p) => p.name === 'metrics');
    assert.ok(servicePort);
    assert.equal(servicePort.port, METRICS_PORT);
    assert.ok(servicePort.targetPort === containerPort.name || servicePort.targetPort === METRICS_PORT);
    for (const [key, value] of Object.entries(service.spec.selector)) {
      assert.equal(deploymentSpec.template.metadata.labels[key], value, `Service selector ${key}`);
    }

    const serviceMonitor = findOne(baseDocs, 'ServiceMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    assert.deepEqual(
      serviceMonitor.spec.endpoints.map((e) => [e.port, e.path]),
      [['metrics', '/metrics']],
    );
    for (const [key, value] of Object.entries(serviceMonitor.spec.selector.matchLabels)) {
      assert.equal(service.metadata.labels?.[key], value, `ServiceMonitor selector ${key}`);
    }

    const podMonitor = findOne(azureDocs, 'PodMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] };
    };
    assert.deepEqual(
      podMonitor.spec.podMetricsEndpoints.map((e) => [e.port, e.path]),
      [['metrics', '/metrics']],
    );
    for (const [key, value] of Object.entries(podMonitor.spec.selector.matchLabels)) {
      assert.equal(deploymentSpec.template.metadata.labels[key], value, `PodMonitor selector ${key}`);
    }

    const policy = findOne(baseDocs, 'NetworkPolicy') as K8sObject & { spec: { ingress: { ports: { port: number }[] }[] } };
    assert.deepEqual(
      policy.spec.ingress.flatMap((rule) => rule.ports.map((p) => p.port)),
      [METRICS_PORT],
    );
  });

  it('scrapes set job="redis-probe", the job every rule selects', () => {
    const serviceMonitor = findOne(baseDocs, 'ServiceMonitor') as K8sObject & {
      spec: { endpoints: { relabelings?: { targetLabel?: string; replacement?: string }[] }[] };
    };
    const podMonitor = findOne(azureDocs, 'PodMonitor') as K8sObject & {
      spec: { podMetricsEndpoints: { relabelings?: { targetLabel?: string; replacement?: string }[] }[] };
    };
    for (const endpoint of [...serviceMonitor.spec.endpoints, ...podMonitor.spec.podMetricsEndpoints]) {
      const jobRelabel = endpoint.relabelings?.find((r) => r.targetLabel === 'job');
      assert.equal(jobRelabel?.replacement, 'redis-probe');
    }
  });

  it('base: the NetworkPolicy allows only DNS, Entra/IMDS and Redis ports out', () => {
    interface Port {
      protocol: string;
      port: number;
      endPort?: number;
    }
    const policy = findOne(baseDocs, 'NetworkPolicy') as K8sObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        egress: { to?: { ipBlock?: { cidr: string } }[]; ports?: Port[] }[];
      };
    };
    assert.deepEqual([...policy.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    for (const [key, value] of Object.entries(policy.spec.podSelector.matchLabels)) {
      assert.equal(deploymentSpec.template.metadata.labels[key], value);
    }
    for (const rule of policy.spec.egress) assert.ok((rule.ports ?? []).length > 0, 'no egress rule may open every port');
    const allowed = policy.spec.egress.flatMap((rule) =>
      (rule.ports ?? []).map(
        (p) => `${p.protocol}/${p.port}${p.endPort ? `-${p.endPort}` : ''}${rule.to ? ` to ${rule.to.map((t) => t.ipBlock?.cidr).join(',')}` : ''}`,
      ),
    );
    assert.deepEqual(allowed.sort(), [
      'TCP/10000',
      'TCP/15000-15999',
      'TCP/443',
      'TCP/53',
      'TCP/6379',
      'TCP/6380',
      'TCP/80 to 169.254.169.254/32',
      'TCP/8500-8599',
      'UDP/53',
    ]);
  });

  it('base: the PodDisruptionBudget never blocks a node drain of the single replica', () => {
    const pdb = findOne(baseDocs, 'PodDisruptionBudget') as K8sObject & {
      spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } };
    };
    assert.equal(pdb.spec.minAvailable, undefined);
    assert.ok((pdb.spec.maxUnavailable ?? 0) >= 1);
    for (const [key, value] of Object.entries(pdb.spec.selector.matchLabels)) {
      assert.equal(deploymentSpec.template.metadata.labels[key], value);
    }
  });

  it('base: the image in the Deployment is the one the kustomization pins', () => {
    const images = readKustomization(BASE_DIR).raw['images'] as { name: string; newTag: string }[];
    const [name, tag] = container.image!.split(/:(?=[^/]+$)/);
    const pinned = images.find((i) => i.name === name);
    assert.ok(pinned, `kustomization images: entry for ${name}`);
    assert.equal(tag, pinned.newTag);
    assert.notEqual(pinned.newTag, 'latest');
  });

  it('overlays/azure-managed-prometheus: drops the prometheus-operator kinds and scrapes with a PodMonitor', () => {
    const k = readKustomization(AZURE_OVERLAY_DIR);
    assert.deepEqual(k.resourceDirs, [BASE_DIR]);
    const patches = k.raw['patches'] as { target: { group: string; kind: string }; patch: string }[];
    const deleted = patches
      .filter((p) => p.patch.includes('$patch: delete'))
      .map((p) => `${p.target.group}/${p.target.kind}`)
      .sort();
    assert.deepEqual(deleted, ['monitoring.coreos.com/PrometheusRule', 'monitoring.coreos.com/ServiceMonitor']);
    assert.equal(findOne(azureDocs, 'PodMonitor').apiVersion, 'azmonitoring.coreos.com/v1');
    assert.ok(existsSync(path.join(AZURE_OVERLAY_DIR, 'rule-groups.bicep')));
  });
});
