import type { ClientInfo } from './probe-result.ts';

/** Parses CLIENT LIST output (`id=3 addr=127.0.0.1:5000 ... name=x ...` per line). */
export function parseClientList(text: string): ClientInfo[] {
  const clients: ClientInfo[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const fields = new Map<string, string>();
    for (const pair of trimmed.split(' ')) {
      const eq = pair.indexOf('=');
      if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const id = fields.get('id');
    const addr = fields.get('addr');
    if (id === undefined || addr === undefined) continue;
    clients.push({ id, addr, name: fields.get('name') ?? '' });
  }
  return clients;
}
