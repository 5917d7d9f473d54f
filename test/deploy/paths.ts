/** Where the deployment artefacts live, for tests (and the lead's live end-to-end test). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const K8S_DIR = path.join(REPO_ROOT, 'k8s');
export const BASE_DIR = path.join(K8S_DIR, 'base');
export const AZURE_OVERLAY_DIR = path.join(K8S_DIR, 'overlays/azure-managed-prometheus');
export const RULES_FILE = path.join(K8S_DIR, 'rules/redis-probe.rules.yml');
export const RULE_TESTS_DIR = path.join(K8S_DIR, 'rules/tests');
export const DASHBOARD_FILE = path.join(K8S_DIR, 'grafana/redis-probe-dashboard.json');
export const RUNBOOK_FILE = path.join(REPO_ROOT, 'docs/runbook.md');
export const DEPLOY_DOC_FILE = path.join(REPO_ROOT, 'docs/deploy-aks.md');
export const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile');
export const FIXTURES_DIR = path.join(REPO_ROOT, 'test/deploy/fixtures');

/** The ConfigMap the Deployment mounts at /etc/redis-probe. */
export const CONFIG_MAP_NAME = 'redis-probe-config';
/** The key (file name) of the config inside that ConfigMap. */
export const CONFIG_MAP_KEY = 'config.yaml';

interface ConfigMapGenerator {
  name?: string;
  files?: string[];
}

/**
 * Absolute path of the file k8s/base turns into the `redis-probe-config` ConfigMap,
 * read from the kustomization's configMapGenerator: run `redis-probe validate` on it.
 */
export function configMapConfigPath(): string {
  const kustomization = YAML.parse(readFileSync(path.join(BASE_DIR, 'kustomization.yaml'), 'utf8')) as {
    configMapGenerator?: ConfigMapGenerator[];
  };
  const generator = kustomization.configMapGenerator?.find((g) => g.name === CONFIG_MAP_NAME);
  if (!generator) throw new Error(`k8s/base/kustomization.yaml has no configMapGenerator ${CONFIG_MAP_NAME}`);
  for (const entry of generator.files ?? []) {
    // `file` or `key=file`
    const eq = entry.indexOf('=');
    const key = eq === -1 ? path.basename(entry) : entry.slice(0, eq);
    const file = eq === -1 ? entry : entry.slice(eq + 1);
    if (key === CONFIG_MAP_KEY) return path.resolve(BASE_DIR, file);
  }
  throw new Error(`configMapGenerator ${CONFIG_MAP_NAME} has no ${CONFIG_MAP_KEY} entry`);
}
