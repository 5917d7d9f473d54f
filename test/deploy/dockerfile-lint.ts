/** A small Dockerfile reader and the image rules redis-probe's Dockerfile must follow. */

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  /** Image reference with global ARG defaults substituted. */
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Instructions in order: comments dropped, `\` continuations joined. */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== '' && line.trimStart().startsWith('#')) return; // comment inside a continuation
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: startLine });
  });
  return out;
}

function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => {
    const value = vars.get((a ?? b)!);
    return value ?? whole;
  });
}

export function parseStages(text: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'FROM') {
      const parts = instruction.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const image = substitute(parts[0] ?? '', globalArgs);
      const asIndex = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({ image, name: asIndex === -1 ? undefined : parts[asIndex + 1], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [name, value] = instruction.args.split('=', 2);
        if (name !== undefined && value !== undefined) globalArgs.set(name.trim(), value.trim());
      }
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON (exec) form of ENTRYPOINT/CMD, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** `image:tag` or `image@digest` parts of a reference (registry ports are not tags). */
export function imageTag(reference: string): { tag: string | undefined; digest: string | undefined } {
  const [withoutDigest, digest] = reference.split('@', 2) as [string, string | undefined];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return { tag: colon === -1 ? undefined : withoutDigest.slice(colon + 1), digest };
}

export interface DockerfileExpectations {
  readonly port: number;
  readonly entrypoint: readonly string[];
  /** Node major version the base image must carry (from package.json engines). */
  readonly nodeMajor: number;
}

/** Every way the Dockerfile breaks the image rules; empty when it follows them. */
export function dockerfileProblems(text: string, expected: DockerfileExpectations): string[] {
  const problems: string[] = [];
  const stages = parseStages(text);
  if (stages.length < 2) problems.push(`needs a multi-stage build (found ${stages.length} stage)`);
  const stageNames = new Set(stages.map((s) => s.name).filter((n): n is string => n !== undefined));

  for (const stage of stages) {
    if (stageNames.has(stage.image)) continue; // FROM an earlier stage
    if (stage.image.includes('$')) {
      problems.push(`FROM ${stage.image}: unresolved variable (give the ARG a default)`);
      continue;
    }
    const { tag, digest } = imageTag(stage.image);
    if (digest === undefined && (tag === undefined || tag === 'latest')) {
      problems.push(`FROM ${stage.image}: pin an exact tag or digest (no :latest, no untagged image)`);
    } else if (digest === undefined && !/^\d+\.\d+\.\d+/.test(tag ?? '')) {
      problems.push(`FROM ${stage.image}: pin an exact version (x.y.z), not a floating tag`);
    }
    if (/(^|\/)node$/.test(stage.image.split(/[:@]/)[0]!) && tag !== undefined && /^\d+/.exec(tag)?.[0] !== String(expected.nodeMajor)) {
      problems.push(`FROM ${stage.image}: Node ${expected.nodeMajor} expected (package.json engines)`);
    }
  }

  const final = stages.at(-1);
  if (!final) return [...problems, 'no FROM'];
  const finalOf = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword);

  const users = finalOf('USER');
  const user = users.at(-1)?.args;
  if (user === undefined) {
    problems.push('final stage has no USER: it would run as root');
  } else {
    const match = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!match) problems.push(`USER ${user}: use a numeric uid[:gid] so runAsNonRoot can verify it`);
    else if (match[1] === '0' || match[2] === '0') problems.push(`USER ${user}: must not be root`);
  }

  const entrypoint = finalOf('ENTRYPOINT').at(-1);
  const entry = entrypoint ? execForm(entrypoint.args) : undefined;
  if (!entry || JSON.stringify(entry) !== JSON.stringify(expected.entrypoint)) {
    problems.push(`ENTRYPOINT must be the exec form ${JSON.stringify(expected.entrypoint)}`);
  }

  const exposed = finalOf('EXPOSE').flatMap((i) => i.args.split(/\s+/));
  if (!exposed.some((p) => p === String(expected.port) || p === `${expected.port}/tcp`)) {
    problems.push(`final stage must EXPOSE ${expected.port}`);
  }

  const env = finalOf('ENV')
    .map((i) => i.args)
    .join(' ');
  if (!/\bNODE_ENV[= ]production\b/.test(env)) problems.push('final stage must set NODE_ENV=production');

  const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const buildStages = stages.slice(0, -1);
  const buildStage = buildStages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
  if (!buildStage) {
    problems.push('no build stage runs `npm run build`');
  } else if (!runs(buildStage).some((r) => /\bnpm ci\b/.test(r) && !/--omit[= ]dev/.test(r))) {
    problems.push('the build stage must install with `npm ci` (dev dependencies included)');
  }
  if (runs(final).some((r) => /\bnpm run build\b|\btsc\b/.test(r))) problems.push('the final stage must not compile');

  // Production node_modules: `npm ci --omit=dev` in the final stage or in a stage it copies from.
  const prodInstall = (stage: Stage) => runs(stage).some((r) => /\bnpm ci\b/.test(r) && /--omit[= ]dev/.test(r));
  const copiedFrom = finalOf('COPY')
    .map((i) => /--from=(\S+)/.exec(i.args)?.[1])
    .filter((n): n is string => n !== undefined);
  const prodStages = stages.filter((s) => s === final || (s.name !== undefined && copiedFrom.includes(s.name)));
  if (!prodStages.some(prodInstall)) {
    problems.push('runtime dependencies must come from `npm ci --omit=dev` (final stage or a stage it copies from)');
  }
  for (const stage of stages) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'ADD' && /https?:\/\//.test(instruction.args)) {
        problems.push(`line ${instruction.line}: ADD from a URL; download in a RUN with a checksum instead`);
      }
    }
  }
  return problems;
}
