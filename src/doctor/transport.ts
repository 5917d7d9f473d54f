/**
 * The transport under a doctor connection, layer by layer: the socket's lookup, connect and secureConnect
 * events, timed as they happen, read back into the dns, tcp and tls layers of the report.
 */
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Clock } from '../shared/clock.ts';
import { classifyErrorCause } from '../probe/classify-error.ts';
import type { ConnectionPhase } from '../probe/classify-error.ts';
import type { TargetConfig } from '../config/types.ts';
import type { LayerName, LayerReport } from './report.ts';

/** What the socket under the connection went through, read from its events. */
export interface SocketTimeline {
  socket?: Socket;
  readonly lookups: { readonly atMs: number; readonly address?: string; readonly error?: Error }[];
  connectedAtMs?: number;
  /** Read at connect: a socket the server closed no longer knows its peer. */
  remote?: string;
  secureAtMs?: number;
}

/** Records the socket's lookup, connect and secureConnect as they happen, for transportLayers. */
export function observeSocket(socket: Socket, timeline: SocketTimeline, clock: Clock): void {
  timeline.socket = socket;
  socket.on('lookup', (error: Error | null, address: string) => {
    timeline.lookups.push({ atMs: clock.monotonicMs(), ...(error ? { error } : { address }) });
  });
  socket.once('connect', () => {
    timeline.connectedAtMs = clock.monotonicMs();
    if (socket.remoteAddress !== undefined) timeline.remote = `${socket.remoteAddress}:${socket.remotePort ?? ''}`;
  });
  socket.once('secureConnect', () => {
    timeline.secureAtMs = clock.monotonicMs();
  });
}

interface TransportOutcome {
  readonly reports: readonly Pick<LayerReport, 'layer' | 'status' | 'ms' | 'detail'>[];
  readonly failed?: { readonly layer: LayerName; readonly phase: ConnectionPhase; readonly ms: number };
}

/** Reads the socket's timeline into the dns, tcp and tls layers: which passed, and where a failure happened. */
export function transportLayers(target: TargetConfig, timeline: SocketTimeline, startedMs: number, endedMs: number, error: unknown): TransportOutcome {
  const reports: TransportOutcome['reports'][number][] = [];
  const failed = (layer: LayerName, phase: ConnectionPhase, fromMs: number): TransportOutcome => ({
    reports,
    failed: { layer, phase, ms: Math.max(0, endedMs - fromMs) },
  });

  // DNS
  let lookedUpAtMs = startedMs;
  if (isIP(target.host) !== 0) {
    reports.push({ layer: 'dns', status: 'ok', ms: 0, detail: `${target.host} is an IP address (${addressKind(target.host)}): no lookup` });
  } else {
    const resolved = timeline.lookups.filter((lookup) => lookup.address !== undefined);
    const firstLookup = timeline.lookups[0];
    if (firstLookup === undefined || resolved.length === 0) {
      if (error === undefined) {
        reports.push({ layer: 'dns', status: 'ok', ms: null, detail: 'resolved (no lookup event seen)' });
      } else {
        return failed('dns', 'dns', startedMs);
      }
    } else {
      lookedUpAtMs = firstLookup.atMs;
      const addresses = [...new Set(resolved.map((lookup) => lookup.address as string))];
      const kinds = addresses.map((address) => `${address} (${addressKind(address)})`).join(', ');
      reports.push({ layer: 'dns', status: 'ok', ms: firstLookup.atMs - startedMs, detail: `${target.host} → ${kinds}` });
    }
  }

  // TCP
  const connectedAt = timeline.connectedAtMs;
  if (connectedAt === undefined) {
    if (error === undefined) return { reports };
    return failed('tcp', 'tcp', lookedUpAtMs);
  }
  const socket = timeline.socket;
  reports.push({ layer: 'tcp', status: 'ok', ms: connectedAt - lookedUpAtMs, detail: `connected to ${timeline.remote ?? `${target.host}:${target.port}`}` });

  // TLS
  if (!target.tls.enabled) {
    // A TLS-only port drops plain text at the first command: the session phase names that.
    if (error !== undefined && classifyErrorCause(error, { phase: 'session', tls: false }).cause === 'plain_to_tls_port') {
      return failed('tls', 'session', connectedAt);
    }
    reports.push({ layer: 'tls', status: 'skipped', ms: null, detail: 'TLS is off for this target (tls.enabled: false)' });
  } else if (timeline.secureAtMs === undefined) {
    if (error !== undefined) return failed('tls', 'tls', connectedAt);
  } else {
    reports.push({ layer: 'tls', status: 'ok', ms: timeline.secureAtMs - connectedAt, detail: describeTls(socket as TLSSocket | undefined) });
  }
  // Connected, but the first exchange (ioredis's CLIENT SETINFO) failed: the server is not answering.
  if (error !== undefined) return failed('auth', 'session', timeline.secureAtMs ?? connectedAt);
  return { reports };
}

function describeTls(socket: TLSSocket | undefined): string {
  if (!socket || typeof socket.getPeerCertificate !== 'function') return 'handshake done';
  // An empty object when the server sent no certificate, whatever the types say.
  const cert: Partial<PeerCertificate> = socket.getPeerCertificate();
  const subject = [cert.subject?.CN ?? '?'].flat().join(',');
  const issuer = [cert.issuer?.CN ?? '?'].flat().join(',');
  const notAfter = cert.valid_to ? Date.parse(cert.valid_to) : NaN;
  const expiry = Number.isNaN(notAfter)
    ? ''
    : `, expires ${new Date(notAfter).toISOString().slice(0, 10)} (in ${Math.floor((notAfter - Date.now()) / 86_400_000)} days)`;
  return `${socket.getProtocol() ?? 'TLS'}, certificate CN=${subject} issued by CN=${issuer}${expiry}`;
}

/** Private addresses are what a private endpoint resolves to; public ones mean the public endpoint. */
function addressKind(address: string): string {
  if (isIP(address) === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    if (a === 127) return 'loopback';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private: a private endpoint or VNet address';
    if (a === 169 && b === 254) return 'link-local';
    return 'public';
  }
  const lower = address.toLowerCase();
  if (lower === '::1') return 'loopback';
  if (/^f[cd]/.test(lower)) return 'private: a private endpoint or VNet address';
  if (/^fe[89ab]/.test(lower)) return 'link-local';
  return 'public';
}
