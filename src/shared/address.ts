/** `host:port` addresses as a cluster announces them and as `natMap` names them (IPv6 in brackets). */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `10.0.0.4:15000`, or `[fd00::4]:15000` for an IPv6 literal. */
export function formatAddress(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Parses `host:port` or `[v6]:port`; undefined when it is not one (no port, port out of range, empty host). */
export function parseAddress(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (host === '' || port < 1 || port > 65535) return undefined;
  return { host, port };
}
