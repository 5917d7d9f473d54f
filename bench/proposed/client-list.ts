import type { ClientInfo } from '../../src/probe-result.ts';

/**
 * PROPOSED drop-in for src/client-list.ts (measured by `npm run bench -- --experiment=fast-client-list`).
 * Same result, but it looks up only the three fields it returns with indexOf instead of splitting every
 * line into a Map of ~25 fields: CLIENT LIST grows with the server's client count, and the old parser
 * was the largest CPU cost of a cycle (and of GC) on a server with a few hundred clients.
 */
export function parseClientList(text: string): ClientInfo[] {
  const clients: ClientInfo[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const id = field(text, start, end, 'id=');
    const addr = id === undefined ? undefined : field(text, start, end, 'addr=');
    if (id !== undefined && addr !== undefined) clients.push({ id, addr, name: field(text, start, end, 'name=') ?? '' });
    start = end + 1;
  }
  return clients;
}

/** The value of `key` (given with its `=`) in the line text[start, end): a field starts the line or follows a space. */
function field(text: string, start: number, end: number, key: string): string | undefined {
  let at = text.startsWith(key, start) ? start : -1;
  if (at === -1) {
    const found = text.indexOf(` ${key}`, start);
    if (found === -1 || found >= end) return undefined;
    at = found + 1;
  }
  const from = at + key.length;
  const space = text.indexOf(' ', from);
  return text.slice(from, space === -1 || space > end ? end : space).trim();
}
