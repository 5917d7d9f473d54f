import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { markdownAnchors, githubSlug } from './markdown.ts';
import { DEPLOY_DOC_FILE, DOCKERFILE, K8S_DIR, REPO_ROOT, RUNBOOK_FILE } from './paths.ts';

const DOCS = { 'docs/runbook.md': RUNBOOK_FILE, 'docs/deploy-aks.md': DEPLOY_DOC_FILE } as const;
const anchorsOf = Object.fromEntries(Object.entries(DOCS).map(([name, file]) => [name, markdownAnchors(readFileSync(file, 'utf8'))])) as Record<
  keyof typeof DOCS,
  Set<string>
>;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('docs', { timeout: 10_000 }, () => {
  it('GitHub heading anchors are computed the way GitHub does', () => {
    assert.equal(githubSlug('RedisProbeErrorBudgetBurn'), 'redisprobeerrorbudgetburn');
    assert.equal(githubSlug('2. Create the identity'), '2-create-the-identity');
    assert.equal(githubSlug('Access keys instead of Entra ID'), 'access-keys-instead-of-entra-id');
    assert.deepEqual([...markdownAnchors('# A\n## A\n```\n# not a heading\n```\n<a id="x"></a>')], ['a', 'a-1', 'x']);
  });

  it('every docs/<file>.md#anchor named in k8s/, scripts/ and the Dockerfile exists', () => {
    const sources = [...filesUnder(K8S_DIR), ...filesUnder(path.join(REPO_ROOT, 'scripts')), DOCKERFILE];
    let checked = 0;
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/docs\/(runbook|deploy-aks)\.md#([A-Za-z0-9_-]+)/g)) {
        const doc = `docs/${match[1]}.md` as keyof typeof DOCS;
        assert.ok(anchorsOf[doc].has(match[2]!), `${path.relative(REPO_ROOT, file)} links to ${doc}#${match[2]}, which does not exist`);
        checked += 1;
      }
    }
    assert.ok(checked > 10, `only ${checked} links found`);
  });

  it('links inside the docs resolve', () => {
    for (const [name, file] of Object.entries(DOCS) as [keyof typeof DOCS, string][]) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\]\((runbook\.md|deploy-aks\.md)?#([^)]+)\)/g)) {
        const target = match[1] === undefined ? name : (`docs/${match[1]}` as keyof typeof DOCS);
        assert.ok(anchorsOf[target].has(match[2]!), `${name}: link to ${target}#${match[2]} is broken`);
      }
    }
  });

  it('the deploy guide covers workload identity, the access policy, apply -k, the dashboard and the SLO', () => {
    const guide = readFileSync(DEPLOY_DOC_FILE, 'utf8');
    for (const needle of [
      'az identity create',
      'az identity federated-credential create',
      'system:serviceaccount:redis-probe:redis-probe',
      'az redis access-policy-assignment create',
      '$PRINCIPAL_ID',
      'kubectl apply -k',
      'az grafana dashboard import',
      'redis_probe:slo_objective:ratio',
      'node scripts/gen-rules.ts',
    ]) {
      assert.ok(guide.includes(needle), `docs/deploy-aks.md should mention ${needle}`);
    }
  });

  it('the runbook explains how to silence during planned maintenance', () => {
    const runbook = readFileSync(RUNBOOK_FILE, 'utf8');
    assert.ok(anchorsOf['docs/runbook.md'].has('silencing-during-planned-maintenance'));
    assert.match(runbook, /amtool silence add target=/);
    assert.match(runbook, /az monitor alert-processing-rule create/);
  });
});
