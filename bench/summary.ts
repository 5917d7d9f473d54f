/**
 * The Markdown page `npm run bench` writes beside each run's JSON: the run's table as printed, with
 * the date, the command, the machine and the load average around each phase, so a reader can judge
 * a figure without the JSON. A committed page is where the README and comments point for figures.
 */

/** What the page says about one run. */
export interface RunSummary {
  /** Base name of the run's files: `<stamp>.json` and `<stamp>.md`. */
  readonly stamp: string;
  readonly date: string;
  readonly mode: 'quick' | 'full';
  readonly args: readonly string[];
  readonly wallSeconds: number;
  readonly machine: Readonly<Record<string, string | number>>;
  /** 1-minute load average before and after each phase: other work on the machine shows up here. */
  readonly load: Readonly<Record<string, readonly [number, number] | undefined>>;
  /** The report as `npm run bench` printed it. */
  readonly table: string;
}

export function markdownSummary(run: RunSummary): string {
  const command = ['npm run bench', ...(run.args.length > 0 ? ['--', ...run.args] : [])].join(' ');
  const machine = Object.entries(run.machine)
    .map(([name, value]) => `${name} ${String(value).split(' sha=')[0] ?? ''}`)
    .join(', ');
  const load = Object.entries(run.load)
    .filter((entry): entry is [string, readonly [number, number]] => entry[1] !== undefined)
    .map(([phase, [before, after]]) => `${phase} ${before.toFixed(2)} → ${after.toFixed(2)}`)
    .join(', ');
  return [
    `# redis-probe benchmark, ${run.date.slice(0, 10)}`,
    '',
    `A ${run.mode} run of \`${command}\` on ${run.date}, ${Math.round(run.wallSeconds)} s. The figures are this run's, on this machine;`,
    'what each section measures is in [bench/README.md](../README.md), the raw figures in',
    `[${run.stamp}.json](${run.stamp}.json).`,
    '',
    `- Machine: ${machine}.`,
    `- Load average (1 min) before → after each phase: ${load === '' ? 'not recorded' : load}.`,
    '',
    '```text',
    run.table,
    '```',
    '',
  ].join('\n');
}
