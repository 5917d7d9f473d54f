/** The pod-level rules every redis-probe workload (Deployment, StatefulSet) must follow. */

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

interface Probe {
  httpGet?: { path?: string; port?: number | string };
}

/** A container as far as these checks care. */
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  securityContext?: SecurityContext;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface PodSpec {
  securityContext?: SecurityContext;
  containers: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object }[];
}

export const EXPECTED_UID = 10001;

/** Every way the pod breaks the restricted profile redis-probe promises; empty when none. */
export function podSecurityProblems(spec: PodSpec): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problems.push('pod: securityContext.runAsNonRoot must be true');
  if (pod.runAsUser !== EXPECTED_UID) problems.push(`pod: securityContext.runAsUser must be ${EXPECTED_UID}`);
  if (pod.seccompProfile?.type !== 'RuntimeDefault') problems.push('pod: seccompProfile.type must be RuntimeDefault');
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push('pod: must not share host namespaces');
  for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
    const where = `container ${container.name}`;
    const sc = container.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (sc.privileged === true) problems.push(`${where}: must not be privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities.drop must include ALL`);
    if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${where}: must not add capabilities`);
    if (sc.runAsUser === 0) problems.push(`${where}: must not run as uid 0`);
    if (sc.runAsNonRoot === false) problems.push(`${where}: must not override runAsNonRoot`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where}: needs a seccomp profile`);
    if (container.resources?.requests?.['cpu'] === undefined) problems.push(`${where}: needs a CPU request`);
    if (container.resources?.requests?.['memory'] === undefined) problems.push(`${where}: needs a memory request`);
    if (container.resources?.limits?.['memory'] === undefined) problems.push(`${where}: needs a memory limit`);
  }
  return problems;
}
