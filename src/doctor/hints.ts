import type { ClassifiedError } from '../probe/classify-error.ts';
import type { CredentialConfig, TargetConfig } from '../config/types.ts';
import { ENTRA_REDIS_SCOPE } from '../config/resolve-config.ts';
import { formatDurationMs } from '../config/duration.ts';
import type { CommandStep } from '../shared/probe-result.ts';

/** Where a failure happened, for wording its hint. Everything here comes from config or closed values, never error text. */
export interface HintContext {
  readonly target: TargetConfig;
  readonly credential?: CredentialConfig;
  /** The Redis username in use (configured, or an Entra token's object id). */
  readonly principal?: string;
  /** The command step that failed, when one did. */
  readonly step?: CommandStep;
}

/** The ACL category each step needs, as Redis groups commands and Azure's custom access policies name them. */
const STEP_CATEGORIES: Readonly<Record<CommandStep, string>> = {
  ping: '@connection (PING)',
  set: '@write (SET)',
  get: '@read (GET)',
  client_list: '@admin / @dangerous (CLIENT LIST)',
};

/** Azure's built-in data access policies that allow each step: Data Reader has no writes, only Data Owner has @dangerous. */
const STEP_POLICIES: Readonly<Record<CommandStep, string>> = {
  ping: 'any built-in data access policy',
  set: 'Data Contributor or Data Owner',
  get: 'Data Reader, Data Contributor or Data Owner',
  client_list: 'Data Owner, or a custom policy with +client|list',
};

type Platform = 'azure-cache' | 'azure-managed' | 'other';

function platformOf(host: string): Platform {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name.endsWith('.redis.cache.windows.net')) return 'azure-cache';
  if (name.endsWith('.redis.azure.net')) return 'azure-managed';
  return 'other';
}

function portAdvice(target: TargetConfig): string {
  switch (platformOf(target.host)) {
    case 'azure-cache':
      return `Azure Cache for Redis listens on 6380 for TLS and on 6379 only when its non-TLS port is enabled (this target uses ${target.port}, TLS ${target.tls.enabled ? 'on' : 'off'}).`;
    case 'azure-managed':
      return `Azure Managed Redis listens on 10000, TLS only (this target uses ${target.port}).`;
    case 'other':
      return `Check the port: 6380 for TLS on Azure Cache for Redis, 10000 on Azure Managed Redis, 6379 only when the non-TLS port is enabled (this target uses ${target.port}, TLS ${target.tls.enabled ? 'on' : 'off'}).`;
  }
}

/** The one place a classified failure becomes advice. */
export function hintFor(error: ClassifiedError, context: HintContext): string {
  const { target, credential, principal, step } = context;
  const { host, port } = target;
  const timeout = formatDurationMs(target.timeoutMs);
  const servername = target.tls.servername ?? host;
  switch (error.cause) {
    case 'dns_not_found':
      return `The name ${host} does not resolve. Check the cache name for a typo (Azure Cache for Redis: <name>.redis.cache.windows.net; Azure Managed Redis: <name>.<region>.redis.azure.net). Behind a private endpoint, the private DNS zone (privatelink.redis.cache.windows.net or privatelink.redis.azure.net) must be linked to this VNet, or your DNS server must forward to Azure DNS (168.63.129.16).`;
    case 'dns_unavailable':
      return `The DNS resolver could not answer for ${host} (a temporary failure, not "no such name"). Check that this machine's DNS server is reachable (/etc/resolv.conf, CoreDNS in Kubernetes) and retry.`;
    case 'dns_timeout':
      return `Looking up ${host} took longer than ${timeout}. The DNS server is slow or unreachable; check /etc/resolv.conf (CoreDNS in Kubernetes) and the network path to it.`;
    case 'connection_refused':
      return `Nothing accepts connections on ${host}:${port}: the host answered with a refusal. ${portAdvice(target)} A firewall that rejects (rather than drops) also looks like this.`;
    case 'network_unreachable':
      return `There is no network route to ${host}. Check the routing from this machine (VNet peering, UDRs, VPN) and that the address is the cache's.`;
    case 'connect_timeout':
      return `No answer from ${host}:${port} within ${timeout}: packets are dropped on the way. Check the cache's firewall rules, the NSG or Azure Firewall between here and the cache, and whether public network access is disabled (then connect through the private endpoint's name). ${portAdvice(target)}`;
    case 'connection_reset':
    case 'tls_handshake_reset':
      return error.cause === 'tls_handshake_reset'
        ? `The connection was closed during the TLS handshake. The port may not speak TLS (${portAdvice(target)}), the server may require a client certificate (tls.cert and tls.key), or a proxy in between refused the handshake.`
        : `The server (or something in between) closed the connection. Check the server's maxclients and logs, and any proxy or load balancer between here and ${host}.`;
    case 'tls_to_plain_port':
      return `TLS was sent to a port that speaks plain text: the server answered without TLS. Use the TLS port (6380 on Azure Cache for Redis, 10000 on Azure Managed Redis), or set tls.enabled: false (--no-tls) if ${port} is meant to be the non-TLS port.`;
    case 'tls_handshake_timeout':
      return `TCP connected, but the TLS handshake got no answer within ${timeout}: the port most likely speaks plain text (a non-TLS port such as 6379 waits for a command, not a handshake). Use the TLS port (6380 on Azure Cache for Redis, 10000 on Azure Managed Redis), or set tls.enabled: false (--no-tls) for a non-TLS port.`;
    case 'plain_to_tls_port':
      return `Plain text was sent to a port that expects TLS: the server closed the connection at the first command. Turn TLS on (tls.enabled: true, the default; --tls), or use the non-TLS port 6379 if it is enabled on the cache.`;
    case 'cert_untrusted':
      return `The server's certificate is not trusted: its chain does not lead to a CA this machine trusts. Azure's certificates chain to public roots (DigiCert Global Root G2), so update the system CA bundle; for a private CA (a self-hosted server, an inspecting proxy) set tls.ca (--ca) to that CA's PEM file.`;
    case 'cert_expired':
      return `The server's certificate has expired. Renew it on the server (Azure renews its own: then check this machine's clock), and check that the clock here is right.`;
    case 'cert_not_yet_valid':
      return `The server's certificate is not valid yet: this machine's clock is probably wrong (check NTP).`;
    case 'cert_hostname_mismatch':
      return `The server's certificate does not match the name ${servername}. Connect by the name the certificate carries (on Azure the cache's own name, <name>.redis.cache.windows.net, also through a private endpoint: not its IP address), or set tls.servername (--servername) to that name.`;
    case 'tls_other':
      return `The TLS handshake failed. Check that the server's TLS versions and ciphers are ones Node supports (TLS 1.2+), whether it requires a client certificate (tls.cert and tls.key), and tls.ca / tls.servername.`;
    case 'wrongpass':
      return credential?.type === 'entra'
        ? `Redis refused the Entra token for the user "${principal ?? 'unknown'}". The username must be the principal's object id (not its client or application id); the principal needs a data access policy assignment on the cache (Data Owner, Contributor or Reader, or a custom one); the token must be for the scope ${ENTRA_REDIS_SCOPE}${credential.scope !== ENTRA_REDIS_SCOPE ? ` (this credential asks for ${credential.scope})` : ''}; and an expired token is refused.`
        : `The server refused the password for the user "${principal ?? 'default'}". If it is an access key, it may have been regenerated: copy the current primary or secondary key of this cache (and check it is this cache's key); access-key authentication may also be disabled on the cache (Entra only). With an ACL user, check that it exists and is enabled.`;
    case 'noauth':
      return credential
        ? `The server says the connection is not authenticated although a credential was sent; check that AUTH succeeded (a proxy may be dropping it).`
        : `The server requires authentication and no credential is configured: add one (an access key: --user/--password-env or credentials[].passwordEnv; Entra ID: --entra or a type: entra credential).`;
    case 'auth_not_enabled':
      return `A credential was sent but the server has no password set for that user: remove the credential from the target, or enable authentication on the server.`;
    case 'token_network':
      return `The token endpoint could not be reached. A managed identity asks the instance metadata service (169.254.169.254, or IDENTITY_ENDPOINT on App Service); workload identity and client secrets ask ${credential?.type === 'entra' && credential.authorityHost ? credential.authorityHost : 'login.microsoftonline.com'} on 443. Check egress rules, the proxy and Kubernetes NetworkPolicies.`;
    case 'token_http':
      return `The token endpoint answered with an error status. For a managed identity, check that the identity is assigned to this VM or pod (and clientId names it when user-assigned); otherwise the service may be failing: retry later.`;
    case 'token_rejected':
      return `The token request was rejected: check the tenant id, the client id, and the client secret or the federated credential (its issuer and subject must match this service account).`;
    case 'token_timeout':
      return `The token request did not finish in time (requestTimeout). The token endpoint is slow or unreachable; check egress to it.`;
    case 'token_no_principal':
      return `The token carries no object id (oid claim) to use as the Redis username: set username on the credential to the principal's object id.`;
    case 'token_invalid_response':
      return `The token endpoint sent an answer that is not a usable token; a proxy may be answering in its place.`;
    case 'token_unavailable':
      return `No token could be obtained with this source in this environment: check the credential's source and the environment it reads (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, IDENTITY_ENDPOINT).`;
    case 'noperm': {
      const category = step ? STEP_CATEGORIES[step] : 'the needed command category';
      return `The principal "${principal ?? 'default'}" may not run ${error.command ?? step ?? 'this command'}: it lacks ${category}. On Azure assign a data access policy that allows it (${step ? STEP_POLICIES[step] : 'a custom policy with that category'})${step ? `, or remove ${step} from the target's steps` : ''}.`;
    }
    case 'readonly':
      return `The server is a read-only replica. Point host at the primary endpoint (on Azure the cache's own name, not a replica or geo-secondary), or remove set from the target's steps.`;
    case 'oom':
      return `The cache is out of memory (maxmemory reached) and its eviction policy refuses writes. Scale the cache up, choose an evicting maxmemory-policy (such as volatile-lru), or free memory.`;
    case 'loading':
      return `The server is loading its dataset after a restart or failover and refuses commands until it is done; retry in a moment. If it lasts, check the cache's health in the portal.`;
    case 'busy':
      return `The server is busy running a script or function and answers nothing else until it ends (SCRIPT KILL / FUNCTION KILL).`;
    case 'clusterdown':
      return `The cluster is down or some hash slots are not served (a failover or a reshard in progress). Check the cache's health; it usually recovers by itself.`;
    case 'moved':
    case 'ask':
      return `The key lives on another shard (redirected to ${error.redirect ?? 'another node'}): this is a clustered cache (OSS cluster policy). Set cluster: true on the target so every primary is probed.`;
    case 'tryagain':
      return `A slot is being migrated (resharding or scaling in progress); retry in a moment.`;
    case 'unknown_command':
    case 'unknown_subcommand':
      return `The server does not know this command: a proxy or an older or restricted Redis in between. Remove the step from the target's steps if it is not available.`;
    case 'step_timeout':
      return `The server accepted the connection but did not answer within ${timeout}: it may be overloaded (CPU, a long-running command), paused, or held up by a proxy in between.`;
    case 'unexpected_reply':
      return `The server answered something a Redis server would not: check that ${host}:${port} is a Redis endpoint and that no proxy rewrites replies.`;
    case 'other':
      return `An unexpected error: see the detail. Run again with a longer --timeout to rule out a slow server.`;
  }
}
