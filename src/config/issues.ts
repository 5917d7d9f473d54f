/** How a config issue is worded, wherever it is found: field paths, duplicate names, unreadable files. */

/** `['targets', 2, 'port']` → `targets[2].port`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      // A key of the user's own (a label, an unknown key) may be empty or hold "." or ":": quote it so the path stays readable.
      if (typeof part !== 'string' || !/^[A-Za-z0-9_-]+$/.test(part)) return `[${JSON.stringify(String(part))}]`;
      return `${index === 0 ? '' : '.'}${part}`;
    })
    .join('');
}

/** One issue per name used again, pointing at the entry that used it first. */
export function reportDuplicates(names: readonly (string | undefined)[], field: string, issues: string[]): void {
  const firstIndex = new Map<string, number>();
  names.forEach((name, index) => {
    if (name === undefined) return;
    const earlier = firstIndex.get(name);
    if (earlier === undefined) firstIndex.set(name, index);
    else issues.push(`${field}[${index}].name: "${name}" is already used by ${field}[${earlier}]; names must be unique`);
  });
}

/** Why a file could not be read, in words (`no such file`, `a directory`), else its error code. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory' : (code ?? 'unreadable');
}
