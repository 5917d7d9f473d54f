/**
 * Issue 18: numbers live with the benchmark, not in prose. One run's figures, copied into the README,
 * the docs, a manifest's comment or a source comment, go stale the day the code changes; the
 * committed results under bench/results/ carry them, dated and with the machine they ran on.
 * Settings (a request, a limit, a bucket bound, a timeout) are not measurements and stay.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths.ts';

const RESULTS_INDEX = 'bench/results/README.md';

/** What reads like a measurement: each pattern with the reason it gives in a failure. */
const MEASURED: readonly { readonly why: string; readonly pattern: RegExp }[] = [
  { why: 'narrates a run', pattern: /\b(?:in (?:this|that|one|an earlier|a previous|the last|(?:\w+ )?other) runs?|runs? of the same code|measured:)/i },
  {
    why: 'a figure followed by what was measured',
    pattern: /\d[\d,.]*(?:-\d[\d,.]*)? ?(?:MB|MiB|GB|KB|ms|µs|%)(?!\w)[^.;|]{0,40}?\b(?:peak RSS|of RSS|of (?:a|one) core|of CPU|of heap)\b/i,
  },
  {
    why: 'what was measured followed by a figure',
    pattern: /\b(?:peak RSS|RSS p50|p50|p99|npm run bench\b[^)]*)[^.;|]{0,60}?\d[\d,.]* ?(?:MB|MiB|ms|µs|%)(?!\w)/i,
  },
  { why: 'a range of timings at a load', pattern: /\b\d[\d.]*-\d[\d.]* ?(?:ms|µs|MB)(?!\w)[^.;]{0,20}?\b(?:later|at \d)/ },
  { why: 'a size to the tenth of a MB', pattern: /\b\d+\.\d+ ?(?:MB|GB)\b/ },
  { why: 'a measured ratio', pattern: /\d\.\d+(?:-\d\.\d+)? ?×/ },
  { why: 'a table of measured figures', pattern: /^\|.*\|\s*[\d,.]+(?: \/ [\d,.]+)? ?(?:MB|ms|µs|%)\s*\|/ },
];

function filesUnder(dir: string, keep: (file: string) => boolean): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(REPO_ROOT, path.join(e.parentPath, e.name)))
    .filter(keep);
}

/** The prose of a file, line by line: Markdown outside code fences (sample output is an example), comments of code. */
function proseLines(file: string, text: string): { line: number; text: string }[] {
  const lines = text.split('\n');
  const kept: { line: number; text: string }[] = [];
  if (file.endsWith('.md')) {
    let inFence = false;
    lines.forEach((line, i) => {
      if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
      else if (!inFence) kept.push({ line: i + 1, text: line });
    });
    return kept;
  }
  if (file.endsWith('.ts')) {
    let inBlock = false;
    lines.forEach((line, i) => {
      const trimmed = line.trim();
      if (inBlock || trimmed.startsWith('/*')) {
        kept.push({ line: i + 1, text: line });
        inBlock = !trimmed.includes('*/') || (trimmed.startsWith('/*') && trimmed.indexOf('*/') < 2);
        return;
      }
      const comment = /(?:^|\s)\/\/(.*)$/.exec(line);
      if (comment) kept.push({ line: i + 1, text: comment[1]! });
    });
    return kept;
  }
  // YAML and the Dockerfile: `#` comments.
  lines.forEach((line, i) => {
    const comment = /(?:^|\s)#(.*)$/.exec(line);
    if (comment) kept.push({ line: i + 1, text: comment[1]! });
  });
  return kept;
}

/** `file:line: why: text` for every line of prose that reads like a measurement. */
function measuredFigures(files: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    for (const { line, text } of proseLines(file, readFileSync(path.join(REPO_ROOT, file), 'utf8'))) {
      for (const { why, pattern } of MEASURED) {
        const match = pattern.exec(text);
        if (match) found.push(`${file}:${line}: ${why}: "${match[0]}"`);
      }
    }
  }
  return found;
}

const PROSE_FILES = [
  'README.md',
  'Dockerfile',
  'bench/README.md',
  ...filesUnder('docs', (f) => f.endsWith('.md')),
  ...filesUnder('k8s', (f) => /\.ya?ml$/.test(f)),
  ...filesUnder('config', (f) => /\.ya?ml$/.test(f)),
  ...filesUnder('src', (f) => f.endsWith('.ts')),
  ...filesUnder('scripts', (f) => f.endsWith('.ts')),
];

describe('measured figures live in bench/results, not in prose', () => {
  it('the patterns catch the prose issue 18 quoted, and leave settings alone', () => {
    const caught = [
      'take about 7 % of a core and 144 MB peak RSS with the default series',
      'Their ratio was 0.77× in this run and 1.15-1.21× in four other runs of the same code that day',
      '(measured: about 7 % of a core and 144 MB peak RSS with the default',
      '| RSS p50 / peak | 143 / 144 MB | 135 / 135 MB |',
      'a cycle costs about 250-340 µs of CPU',
      '85 µs of CPU a wake-up here (npm run bench, `idle`: 2.0 ms/s at 50 ms, 0.4 ms/s at 1 s)',
      'so a scrape never holds the loop for more than a few ms (2-5 ms at 1,000 targets, 4-10 ms at 10,000)',
      'Most of a `GET` at the default layout is moving 14.7 MB through the socket.',
      'and the probe reports PING p50 60 ms instead of 0.27 ms.',
    ];
    for (const text of caught)
      assert.ok(
        MEASURED.some(({ pattern }) => pattern.test(text)),
        `not caught: ${text}`,
      );
    const settings = [
      '`k8s/base` requests 50m CPU and 128 MiB and sets a 384 MiB limit.',
      'The latency buckets run from 0.5 ms to 5 s: 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5 and 5 s.',
      'Events are debounced (250 ms), the file is read through its symlinks',
      'summary: Redis target {{ $labels.target }} is burning its error budget 14.4x too fast',
      'For 10,000 targets raise the limit to about 640 MiB, or shard',
      'a `timeout` below 10 ms; a `timeout` not below the schedule',
      'headers over 8 KB get 431',
    ];
    for (const text of settings) {
      const hit = MEASURED.find(({ pattern }) => pattern.test(text));
      assert.equal(hit, undefined, `a setting read as a measurement (${hit?.why ?? ''}): ${text}`);
    }
  });

  it('README, docs, manifests, the Dockerfile, bench/README and source comments quote no run', () => {
    assert.ok(PROSE_FILES.length > 50, `only ${PROSE_FILES.length} files scanned`);
    assert.deepEqual(measuredFigures(PROSE_FILES), [], `say why instead, and point at ${RESULTS_INDEX} for the figures`);
  });

  it(`the README links ${RESULTS_INDEX}, which lists committed runs whose files exist`, () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    assert.ok(readme.includes(`](${RESULTS_INDEX})`), `README.md does not link ${RESULTS_INDEX}`);
    const index = readFileSync(path.join(REPO_ROOT, RESULTS_INDEX), 'utf8');
    const runs = [...index.matchAll(/\]\(([^)#]+\.(?:md|json))\)/g)].map((m) => m[1]!);
    assert.ok(runs.some((run) => run.endsWith('.md')) && runs.some((run) => run.endsWith('.json')), `${RESULTS_INDEX} lists no run`);
    for (const run of runs) {
      if (run.startsWith('../')) continue;
      assert.ok(existsSync(path.join(REPO_ROOT, 'bench/results', run)), `${RESULTS_INDEX} links ${run}, which is not committed`);
    }
  });
});
