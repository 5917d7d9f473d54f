/** Reading k8s/ manifests and validating them against the Kubernetes and prometheus-operator schemas. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { K8S_DIR } from './paths.ts';

/** A Kubernetes object as parsed from YAML. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface ManifestDoc {
  readonly file: string;
  readonly object: K8sObject;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Azure Monitor managed Prometheus serves the prometheus-operator schemas under its own group. */
const API_GROUP_ALIASES: Readonly<Record<string, string>> = {
  'azmonitoring.coreos.com/v1': 'monitoring.coreos.com/v1',
};

/** Validates against the schema of its kind; throws with the schema errors (or for an unknown kind). */
export function validateObject(object: K8sObject): void {
  const apiVersion = API_GROUP_ALIASES[object.apiVersion] ?? object.apiVersion;
  const Model = MODELS[`${apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema known for ${object.apiVersion} ${object.kind}`);
  new Model({ ...object, apiVersion } as never).validate();
}

/** Every YAML document of a file, empty documents skipped. */
export function loadYamlDocs(file: string): unknown[] {
  return YAML.parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

export function isK8sObject(value: unknown): value is K8sObject {
  return typeof value === 'object' && value !== null && 'apiVersion' in value && 'kind' in value;
}

export interface Kustomization {
  readonly dir: string;
  /** Local resource files (directories are other kustomizations). */
  readonly resourceFiles: string[];
  readonly resourceDirs: string[];
  /** Files read by configMapGenerator/secretGenerator. */
  readonly generatorInputs: string[];
  /** Files named by patches (partial objects: not validated on their own). */
  readonly patchFiles: string[];
  readonly raw: Record<string, unknown>;
}

interface RawGenerator {
  files?: string[];
  envs?: string[];
}

export function readKustomization(dir: string): Kustomization {
  const raw = YAML.parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Record<string, unknown>;
  const resources = ((raw['resources'] as string[] | undefined) ?? []).map((r) => path.resolve(dir, r));
  const generators = [...((raw['configMapGenerator'] as RawGenerator[] | undefined) ?? []), ...((raw['secretGenerator'] as RawGenerator[] | undefined) ?? [])];
  const generatorInputs = generators.flatMap((g) => [
    ...(g.files ?? []).map((f) => path.resolve(dir, f.includes('=') ? f.slice(f.indexOf('=') + 1) : f)),
    ...(g.envs ?? []).map((f) => path.resolve(dir, f)),
  ]);
  const patches = [
    ...((raw['patches'] as { path?: string }[] | undefined) ?? []),
    ...((raw['patchesStrategicMerge'] as string[] | undefined) ?? []).map((p) => ({ path: p })),
  ];
  const patchFiles = patches.flatMap((p) => (p.path === undefined ? [] : [path.resolve(dir, p.path)]));
  const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
  return {
    dir,
    resourceFiles: resources.filter((r) => !isDir(r)),
    resourceDirs: resources.filter(isDir),
    generatorInputs,
    patchFiles,
    raw,
  };
}

/** Every directory under k8s/ holding a kustomization.yaml (base, grafana, overlays/*, ...). */
export function kustomizationDirs(root: string = K8S_DIR): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(path.join(dir, 'kustomization.yaml'))) found.push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name));
    }
  };
  walk(root);
  return found.sort();
}

/** All YAML files below a directory. */
export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * Every manifest file a kustomization lists, plus the `*.example.yaml` files users copy,
 * each with its parsed objects.
 */
export function loadAllManifests(): ManifestDoc[] {
  const files = new Set<string>();
  for (const dir of kustomizationDirs()) {
    for (const file of readKustomization(dir).resourceFiles) files.add(file);
  }
  for (const file of yamlFilesUnder(K8S_DIR)) {
    if (file.endsWith('.example.yaml')) files.add(file);
  }
  return [...files].sort().flatMap((file) =>
    loadYamlDocs(file).map((object) => {
      if (!isK8sObject(object)) throw new Error(`${file}: a document without apiVersion/kind`);
      return { file, object };
    }),
  );
}

/** The single object of a kind (and optional API group) among the docs; throws unless exactly one. */
export function findOne(docs: readonly ManifestDoc[], kind: string, apiVersion?: string): K8sObject {
  const matches = docs.filter((d) => d.object.kind === kind && (apiVersion === undefined || d.object.apiVersion === apiVersion));
  if (matches.length !== 1) throw new Error(`expected one ${apiVersion ?? ''} ${kind}, found ${matches.length}`);
  return matches[0]!.object;
}
