/**
 * The layout README.md's architecture table describes is the layout src/ has: each folder imports only
 * the folders its row allows, no module imports itself back through others (type-only imports count),
 * prom-client and winston stay in their own folders, only entry points sit at the top of src/, and no
 * file is over MAX_LINES lines (a longer one holds more than one concern: split it along a seam).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const ENTRY_POINTS = ['bin.ts', 'cli.ts'];
const MAX_LINES = 400;
/** Packages that belong to one concern: probe code, for one, must not depend on how results are exported. */
const PACKAGE_HOMES: Readonly<Record<string, string>> = { 'prom-client': 'metrics', winston: 'logging' };

interface Module {
  readonly file: string;
  readonly lines: number;
  /** Relative imports, resolved to paths under src/. */
  readonly imports: readonly string[];
  readonly packages: readonly string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

function readModule(path: string): Module {
  const text = readFileSync(path, 'utf8');
  // preProcessFile sees `import type`, re-exports and dynamic import() alike.
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
  const file = relative(SRC, path);
  return {
    file,
    // As `wc -l` counts them: a final newline ends the last line rather than starting another.
    lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0),
    imports: specifiers.filter((spec) => spec.startsWith('.')).map((spec) => relative(SRC, resolve(dirname(path), spec))),
    packages: specifiers.filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:')),
  };
}

/** `src/x/` or the top of src/ (''), for a path relative to src/. */
const folderOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '');

/** The README's architecture rows: `| \`src/probe/\` | what it owns | \`shared\`, \`config\` |`. */
function documentedFolders(): Map<string, Set<string>> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Architecture'));
  const rows = new Map<string, Set<string>>();
  for (const line of section.split('\n')) {
    const match = /^\| `src\/([a-z-]+)\/` \|[^|]+\| ([^|]*) \|$/.exec(line);
    if (!match?.[1]) continue;
    const allowed = [...(match[2] ?? '').matchAll(/`([a-z-]+)`/g)].map((name) => name[1] ?? '');
    rows.set(match[1], new Set(allowed));
  }
  return rows;
}

function layerViolations(modules: readonly Module[], rows: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  return modules.flatMap((module) => {
    const from = folderOf(module.file);
    if (from === '') return [];
    const allowed = rows.get(from) ?? new Set<string>();
    return module.imports
      .filter((target) => folderOf(target) !== from && !allowed.has(folderOf(target)))
      .map((target) => `${module.file} imports ${target}, but src/${from}/ may import only: ${[...allowed].join(', ') || 'nothing'}`);
  });
}

function oversizedFiles(modules: readonly Module[]): string[] {
  return modules.filter((module) => module.lines > MAX_LINES).map((module) => `${module.file}: ${module.lines} lines`);
}

function importCycles(modules: readonly Module[]): string[] {
  const graph = new Map(modules.map((module) => [module.file, module.imports]));
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: string, path: readonly string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'visiting');
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return cycles;
}

const modules = sourceFiles(SRC).map(readModule);

describe('architecture', () => {
  it('every folder of src/ has a row in the README, and imports only what its row allows', () => {
    const rows = documentedFolders();
    const folders = new Set(modules.map((module) => folderOf(module.file)).filter((folder) => folder !== ''));
    assert.deepEqual([...folders].sort(), [...rows.keys()].sort(), 'the README architecture table lists exactly the folders of src/');
    assert.deepEqual(layerViolations(modules, rows), []);
  });

  it('no module reaches itself again through its imports', () => {
    assert.deepEqual(importCycles(modules), []);
  });

  it('prom-client and winston are imported only in their own folders', () => {
    const strays = modules.flatMap((module) =>
      module.packages
        .filter((name) => PACKAGE_HOMES[name] !== undefined && folderOf(module.file) !== PACKAGE_HOMES[name])
        .map((name) => `${module.file} imports ${name}`),
    );
    assert.deepEqual(strays, []);
  });

  it(`no file in src/ is over ${MAX_LINES} lines`, () => {
    assert.deepEqual(oversizedFiles(modules), []);
  });

  it('only the entry points sit at the top of src/', () => {
    assert.deepEqual(
      modules
        .map((module) => module.file)
        .filter((file) => !file.includes('/'))
        .sort(),
      ENTRY_POINTS,
    );
  });

  it('the checks bite: an import against the table, a cycle and a long file are all found', () => {
    const fake = (file: string, imports: string[], lines = 1): Module => ({ file, lines, imports, packages: [] });
    const rows = new Map([
      ['probe', new Set(['shared'])],
      ['shared', new Set<string>()],
    ]);
    assert.deepEqual(layerViolations([fake('probe/probe.ts', ['metrics/x.ts', 'shared/clock.ts', 'probe/y.ts'])], rows), [
      'probe/probe.ts imports metrics/x.ts, but src/probe/ may import only: shared',
    ]);
    assert.deepEqual(importCycles([fake('a/a.ts', ['b/b.ts']), fake('b/b.ts', ['c/c.ts']), fake('c/c.ts', ['a/a.ts'])]), [
      'a/a.ts -> b/b.ts -> c/c.ts -> a/a.ts',
    ]);
    assert.deepEqual(importCycles([fake('a/a.ts', ['b/b.ts']), fake('b/b.ts', [])]), []);
    assert.deepEqual(oversizedFiles([fake('a/long.ts', [], MAX_LINES + 1), fake('a/full.ts', [], MAX_LINES)]), [`a/long.ts: ${MAX_LINES + 1} lines`]);
    assert.equal(readModule(join(SRC, 'shared', 'clock.ts')).lines, readFileSync(join(SRC, 'shared', 'clock.ts'), 'utf8').match(/\n/g)?.length);
  });
});
