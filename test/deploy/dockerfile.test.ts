import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dockerfileProblems, execForm, imageTag, parseStages } from './dockerfile-lint.ts';
import type { DockerfileExpectations } from './dockerfile-lint.ts';
import { DOCKERFILE, FIXTURES_DIR, REPO_ROOT } from './paths.ts';

const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  bin: Record<string, string>;
};
const expected: DockerfileExpectations = {
  port: 9637,
  // The package's bin, which applies the memory settings, as `redis-probe` and `npm start` run it.
  entrypoint: ['node', packageJson.bin['redis-probe']!],
  nodeMajor: Number(/\d+/.exec(packageJson.engines.node)![0]),
};
const dockerfile = readFileSync(DOCKERFILE, 'utf8');

describe('Dockerfile', { timeout: 10_000 }, () => {
  it('follows every image rule', () => {
    assert.deepEqual(dockerfileProblems(dockerfile, expected), []);
  });

  it('builds in one stage and runs from a later one, on an exactly pinned Node base', () => {
    const stages = parseStages(dockerfile);
    assert.ok(stages.length >= 2);
    for (const stage of stages) {
      assert.match(stage.image, /^node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
      assert.equal(imageTag(stage.image).tag?.split('.')[0], String(expected.nodeMajor));
    }
    const final = stages.at(-1)!;
    assert.ok(
      final.instructions.some((i) => i.keyword === 'COPY' && /--from=build\b.*\bdist\b/.test(i.args)),
      'copies dist/ from the build stage',
    );
    // dist/*.js are ES modules ("type": "module") and the CLI reads its version from ../package.json.
    assert.ok(
      final.instructions.some((i) => i.keyword === 'COPY' && /\bpackage\.json\b/.test(i.args)),
      'copies package.json',
    );
    assert.equal(final.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args, '10001:10001');
  });

  it('leaves the memory settings to the bin: no second copy in the image', () => {
    const env = parseStages(dockerfile).flatMap((stage) => stage.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args));
    for (const name of ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'])
      assert.ok(!env.some((args) => args.includes(name)), `ENV ${name}: src/commands/memory-settings.ts owns it`);
  });

  it('runs the daemon on the Kubernetes config path by default', () => {
    const final = parseStages(dockerfile).at(-1)!;
    const cmd = final.instructions.filter((i) => i.keyword === 'CMD').at(-1);
    assert.deepEqual(execForm(cmd!.args), ['run', '--config', '/etc/redis-probe/config.yaml']);
  });

  it('keeps the build context small (.dockerignore)', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', '.git', 'test', 'bench', '.tmp']) {
      assert.ok(ignored.includes(entry), `.dockerignore should list ${entry}`);
    }
    // ...but never what the build stage copies.
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src']) {
      assert.ok(!ignored.includes(needed), `.dockerignore must not exclude ${needed}`);
    }
  });

  it('the linter catches a single-stage root image on :latest', () => {
    const problems = dockerfileProblems(readFileSync(path.join(FIXTURES_DIR, 'insecure.Dockerfile'), 'utf8'), expected);
    const expectedFragments = [
      'multi-stage',
      'no :latest',
      'USER root',
      'ENTRYPOINT must be the exec form',
      'EXPOSE 9637',
      'NODE_ENV=production',
      '`npm run build`',
      '`npm ci --omit=dev`',
    ];
    for (const fragment of expectedFragments) {
      assert.ok(
        problems.some((p) => p.includes(fragment)),
        `expected a problem mentioning ${fragment}; got ${JSON.stringify(problems)}`,
      );
    }
  });

  it('the linter catches floating tags, a Node mismatch and a named user', () => {
    const problems = dockerfileProblems(readFileSync(path.join(FIXTURES_DIR, 'floating-tag.Dockerfile'), 'utf8'), expected);
    assert.deepEqual(problems, [
      'FROM node:24-bookworm-slim: pin an exact version (x.y.z), not a floating tag',
      'FROM node:22.1.0-bookworm-slim: Node 24 expected (package.json engines)',
      'USER node: use a numeric uid[:gid] so runAsNonRoot can verify it',
    ]);
  });

  it('reads image references with registry ports and digests', () => {
    assert.deepEqual(imageTag('registry:5000/node'), { tag: undefined, digest: undefined });
    assert.deepEqual(imageTag('registry:5000/node:24.1.0'), { tag: '24.1.0', digest: undefined });
    assert.deepEqual(imageTag(`node@sha256:${'a'.repeat(64)}`), { tag: undefined, digest: `sha256:${'a'.repeat(64)}` });
  });
});
