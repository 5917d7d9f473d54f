import type { IncomingMessage } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { TLSSocket } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { createBasicAuth } from './basic-auth.ts';
import type { WebConfig, WebTlsConfig } from './web-config.ts';

/** Kubelet probes send no credentials, and these two reveal nothing: they stay open. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Why a request to a protected path is refused. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The web config's client-certificate and basic-auth rules, applied to each protected request. */
export interface AccessControl {
  /** Resolves undefined when the request may go on. */
  check(request: IncomingMessage): Promise<Refusal | undefined>;
}

const UNAUTHORIZED: Refusal = {
  status: 401,
  headers: { 'WWW-Authenticate': 'Basic realm="redis-probe", charset="UTF-8"' },
  body: 'unauthorized\n',
};
const CERT_REQUIRED: Refusal = { status: 403, headers: {}, body: 'a client certificate is required\n' };
const SAN_NOT_ALLOWED: Refusal = { status: 403, headers: {}, body: 'the client certificate is not allowed\n' };

/** Undefined when the web config asks for neither client certificates nor basic auth. */
export function createAccessControl(web: WebConfig | undefined): AccessControl | undefined {
  const tls = web?.tls;
  const requiresCert = tls?.clientAuth === 'RequireAnyClientCert' || tls?.clientAuth === 'RequireAndVerifyClientCert';
  const basicAuth = web && web.basicAuthUsers.size > 0 ? createBasicAuth(web.basicAuthUsers) : undefined;
  if (!requiresCert && !basicAuth) return undefined;
  return {
    async check(request) {
      if (tls && requiresCert) {
        if (!(request.socket instanceof TLSSocket)) return CERT_REQUIRED;
        // Null once the socket is destroyed (Node's documentation), which the types leave out.
        const certificate = request.socket.getPeerCertificate() as PeerCertificate | null;
        if (!certificate || Object.keys(certificate).length === 0) return CERT_REQUIRED;
        if (tls.clientAllowedSans && !sans(certificate.subjectaltname).some((san) => tls.clientAllowedSans?.includes(san))) return SAN_NOT_ALLOWED;
      }
      if (basicAuth && !(await basicAuth.verify(request.headers.authorization))) return UNAUTHORIZED;
      return undefined;
    },
  };
}

/**
 * Node's TLS options for the web config. A client certificate is asked for but not demanded at the
 * handshake, so kubelet reaches /healthz and /readyz without one; protected paths demand it per request.
 */
export function httpsOptions(tls: WebTlsConfig): HttpsServerOptions {
  const asks = tls.clientAuth !== 'NoClientCert';
  return {
    cert: tls.certPem,
    key: tls.keyPem,
    ...(tls.clientCaPem !== undefined ? { ca: tls.clientCaPem } : {}),
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    requestCert: asks,
    rejectUnauthorized: false,
  };
}

/** A certificate that was presented but does not verify is refused outright, as Go's TLS stack does. */
export function refusesConnection(socket: TLSSocket, tls: WebTlsConfig): boolean {
  if (tls.clientAuth !== 'VerifyClientCertIfGiven' && tls.clientAuth !== 'RequireAndVerifyClientCert') return false;
  // Null once the socket is destroyed, as above.
  const certificate = socket.getPeerCertificate() as PeerCertificate | null;
  const presented = certificate !== null && Object.keys(certificate).length > 0;
  return presented && !socket.authorized;
}

/** `DNS:a, IP Address:10.0.0.1, email:x@y, URI:spiffe://…` → the bare values. */
function sans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName.split(', ').map((entry) => entry.slice(entry.indexOf(':') + 1));
}
