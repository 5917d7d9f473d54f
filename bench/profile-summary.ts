/**
 * `node bench/profile-summary.ts FILE.cpuprofile [--top=25] [--callers=NAME] [--skip-ms=N]`: where the CPU time of a
 * `--cpu-prof` profile went: self time by function and by package, inclusive time of our own src/
 * functions, and (with --callers) the call stacks that lead to functions whose label contains NAME.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, callers: { type: 'string' }, 'skip-ms': { type: 'string', default: '0' } },
});
const top = Number(values.top);

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // --skip-ms: leave out start-up (module loading, warm-up) and look at the steady state only.
  const skipUs = Number(values['skip-ms']) * 1000;
  let clockUs = 0;
  const deltas = profile.timeDeltas.map((delta) => {
    clockUs += delta;
    return clockUs < skipUs ? 0 : delta;
  });
  profile.timeDeltas = deltas;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[index] ?? 0)));
  const totalUs = profile.endTime - profile.startTime - Math.min(skipUs, profile.endTime - profile.startTime);

  const where = (frame: CallFrame): string => {
    const url = frame.url.replace(/^file:\/\//, '');
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    if (pkg) return pkg;
    if (url.includes('/src/')) return `src/${url.split('/src/')[1]}`;
    if (url.includes('/bench/')) return `bench/${url.split('/bench/')[1]}`;
    if (url.startsWith('node:')) return url;
    return url === '' ? `(${frame.functionName || 'native'})` : url;
  };
  const label = (frame: CallFrame) => `${frame.functionName || '(anonymous)'} ${where(frame)}:${frame.lineNumber + 1}`;

  const selfByFunction = new Map<string, number>();
  const selfByPackage = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    selfByFunction.set(label(frame), (selfByFunction.get(label(frame)) ?? 0) + us);
    selfByPackage.set(where(frame), (selfByPackage.get(where(frame)) ?? 0) + us);
  }
  // Inclusive time of each of our own functions (counted once per sample even when recursive).
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const frame = byId.get(node)!.callFrame;
      if (!frame.url.includes('/src/') && !frame.url.includes('/bench/')) continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
    }
  });

  const busyUs = totalUs - idleUs;
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)} %`;
  const print = (title: string, entries: Map<string, number>) => {
    console.log(`\n  ${title}`);
    for (const [name, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`    ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  };
  const callers = new Map<string, number>();
  if (values.callers !== undefined) {
    profile.samples.forEach((id, index) => {
      if (!label(byId.get(id)!.callFrame).includes(values.callers!)) return;
      const stack: string[] = [];
      for (let node = parent.get(id); node !== undefined && stack.length < 6; node = parent.get(node)) stack.push(label(byId.get(node)!.callFrame));
      const key = stack.join(' < ');
      callers.set(key, (callers.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
    });
  }
  console.log(`${file}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(2)} s busy (percentages are of busy time)`);
  print('self time by package / file', selfByPackage);
  print('self time by function', selfByFunction);
  print('inclusive time of src/ and bench/ functions', inclusive);
  if (values.callers !== undefined) print(`self time of "${values.callers}" by calling stack (innermost first)`, callers);
}
