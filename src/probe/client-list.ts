import type { ClientInfo } from '../shared/probe-result.ts';

/*
 * CLIENT LIST grows with the server's client count (one ~290-byte line each), and a cycle needs only the
 * count: it is read without splitting the reply. Only `once` asks for the parsed list, and its parser
 * reads just the three fields it returns.
 */

/** How many clients a CLIENT LIST reply lists (its non-empty lines). */
export function countClients(text: string): number {
  let count = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    // A line starts with `id=`; only one that starts with whitespace needs a closer look (no substring per line).
    if (end > start && (text.charCodeAt(start) > 32 || text.slice(start, end).trim() !== '')) count++;
    start = end + 1;
  }
  return count;
}

/** Parses CLIENT LIST output (`id=3 addr=127.0.0.1:5000 ... name=x ...` per line) into id, addr and name. */
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

/** The value of `key` (with its `=`) in the line text[start, end): a field starts the line or follows a space. */
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
