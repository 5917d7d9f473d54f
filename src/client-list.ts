import type { ClientInfo } from './probe-result.ts';

/*
 * CLIENT LIST grows with the server's client count (one ~290-byte line each), and a cycle needs only the
 * count and whether our own connection is listed: those are read from the reply's bytes, without making
 * a string of it or splitting it. Only `once` asks for the parsed list, and its parser reads just the
 * three fields it returns.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;

/** How many clients a CLIENT LIST reply lists (its non-empty lines). */
export function countClients(reply: Buffer): number {
  let count = 0;
  let start = 0;
  while (start < reply.length) {
    let end = reply.indexOf(NEWLINE, start);
    if (end === -1) end = reply.length;
    // A line starts with `id=`; only one that starts with whitespace needs a closer look.
    if (end > start && ((reply[start] ?? 0) > SPACE || reply.toString('latin1', start, end).trim() !== '')) count++;
    start = end + 1;
  }
  return count;
}

/** Whether a connection named `name` is listed (a field is preceded by a space and ends at a space or line end). */
export function listsConnectionNamed(reply: Buffer, name: string): boolean {
  const field = Buffer.from(` name=${name}`);
  for (let at = reply.indexOf(field); at !== -1; at = reply.indexOf(field, at + 1)) {
    const next = reply[at + field.length];
    if (next === undefined || next === SPACE || next === NEWLINE || next === CARRIAGE_RETURN) return true;
  }
  return false;
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
