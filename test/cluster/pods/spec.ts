/**
 * The parts of a pod spec the pod runner reads, and the pure rules that turn one container into a launch plan:
 * which local program stands in for its image, its environment (downward API, `$(VAR)` expansion as the kubelet does
 * it) and its paths (mount paths mapped into the pod's directory). No I/O here: volumes and processes are in
 * volumes.ts and runner.ts.
 */

import { basename } from 'node:path';
import { expandReferences } from '../../../leader/run/expand.js';
import type { Pod } from '../../../src/kube/types.js';
import type { ProbeSpec } from './probes.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  /** `Always` on an init container makes it a native sidecar */
  restartPolicy?: string;
  resources?: { claims?: { name: string; request?: string }[] };
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  startupProbe?: ProbeSpec;
  livenessProbe?: ProbeSpec;
  readinessProbe?: ProbeSpec;
}

export interface VolumeSpec {
  name: string;
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string; items?: { key: string; path: string }[]; optional?: boolean };
  secret?: { secretName: string; items?: { key: string; path: string }[]; optional?: boolean };
  projected?: {
    sources: {
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
      configMap?: { name: string; items?: { key: string; path: string }[]; optional?: boolean };
      secret?: { name: string; items?: { key: string; path: string }[]; optional?: boolean };
      /** metadata fields only, as for a downwardAPI volume (status.podIP is not one) */
      downwardAPI?: { items: { path: string; fieldRef?: { fieldPath: string } }[] };
    }[];
  };
}

export interface PodSpecView {
  initContainers: ContainerSpec[];
  containers: ContainerSpec[];
  volumes: VolumeSpec[];
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds: number;
  serviceAccountName: string;
  /** the pod's automountServiceAccountToken (undefined: the default, true) */
  automountServiceAccountToken?: boolean;
  hostname?: string;
  subdomain?: string;
}

export function podSpecView(pod: Pod): PodSpecView {
  const spec = pod.spec as Pod['spec'] & {
    initContainers?: ContainerSpec[];
    volumes?: VolumeSpec[];
    restartPolicy?: string;
    terminationGracePeriodSeconds?: number;
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    hostname?: string;
    subdomain?: string;
  };
  const policy = spec.restartPolicy;
  return {
    initContainers: spec.initContainers ?? [],
    containers: spec.containers as ContainerSpec[],
    volumes: spec.volumes ?? [],
    restartPolicy: policy === 'OnFailure' || policy === 'Never' ? policy : 'Always',
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
    serviceAccountName: spec.serviceAccountName ?? 'default',
    automountServiceAccountToken: spec.automountServiceAccountToken,
    hostname: spec.hostname,
    subdomain: spec.subdomain,
  };
}

export class ContainerConfigError extends Error {
  override name = 'ContainerConfigError';
}

/** Where the local stand-ins live: the lockstep bundle and Debian's python3 (the one with torch). */
export interface LocalPrograms {
  node: string;
  lockstepBundle: string;
  python: string;
}

/**
 * The image's entrypoint when the container gives no command (what `docker inspect` would say): the lockstep
 * image's ENTRYPOINT is `lockstep` (Dockerfile), python images' CMD is `python3`.
 */
function imageEntrypoint(image: string): string[] | undefined {
  if (isLockstepImage(image)) return ['lockstep'];
  if (isPythonImage(image)) return ['python3'];
  return undefined;
}

const imageName = (image: string) => basename(image.split('@')[0]!.replace(/:[^/:]*$/, ''));
export const isLockstepImage = (image: string) => imageName(image).includes('lockstep');
export const isPythonImage = (image: string) => imageName(image).startsWith('python');

/**
 * The local argv standing in for `argv` in `image`: `lockstep` (by name, or the path the group component runs it
 * from, /var/run/lockstep/bin/lockstep) is node + the local bundle, `python`/`python3[.x]` is Debian's python3,
 * an absolute path that exists on this machine (a shell, `sleep`) runs as is. Anything else cannot run here.
 */
export function localArgv(
  image: string,
  argv: readonly string[],
  programs: LocalPrograms,
  exists: (path: string) => boolean,
): string[] {
  const [first, ...rest] = argv;
  if (first === undefined) {
    throw new ContainerConfigError(`image ${image} has no command here: give the container a command`);
  }
  const name = basename(first);
  if (name === 'lockstep') return [programs.node, programs.lockstepBundle, ...rest];
  if (/^python(3(\.\d+)?)?$/.test(name)) return [programs.python, ...rest];
  if (first.startsWith('/') && exists(first)) return [first, ...rest];
  throw new ContainerConfigError(
    `image ${image}: command ${first} cannot run in the test cluster (it runs lockstep, python3 and absolute paths of this machine)`,
  );
}

export function containerArgv(container: ContainerSpec): string[] {
  const entry = container.command ?? imageEntrypoint(container.image ?? '') ?? [];
  return [...entry, ...(container.args ?? [])];
}

/** What the downward API can give a pod (fieldRef paths the kubelet supports for env). */
export function fieldRefValue(pod: Pod, fieldPath: string, podIP: string, hostIP: string): string {
  const spec = pod.spec as Pod['spec'] & { serviceAccountName?: string };
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[labelOrAnnotation[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return spec.serviceAccountName ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return hostIP;
    default:
      throw new ContainerConfigError(`unsupported fieldRef ${fieldPath}`);
  }
}

export interface EnvSources {
  pod: Pod;
  podIP: string;
  hostIP: string;
  /** a key of a ConfigMap or Secret in the pod's namespace, undefined when it (or the key) does not exist */
  lookup(kind: 'configMap' | 'secret', name: string, key: string): string | undefined;
}

/**
 * The container's env as the kubelet builds it: in order, each value may refer to earlier ones with `$(NAME)`;
 * a missing ConfigMap/Secret key fails the container (CreateContainerConfigError) unless optional.
 */
export function containerEnv(container: ContainerSpec, sources: EnvSources): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined || !entry.valueFrom) {
      env[entry.name] = expandReferences(entry.value ?? '', (name) => env[name]);
      continue;
    }
    const from = entry.valueFrom;
    if (from.fieldRef) {
      env[entry.name] = fieldRefValue(sources.pod, from.fieldRef.fieldPath, sources.podIP, sources.hostIP);
      continue;
    }
    const ref = from.configMapKeyRef ?? from.secretKeyRef;
    if (!ref) continue;
    const kind = from.configMapKeyRef ? 'configMap' : 'secret';
    const value = sources.lookup(kind, ref.name, ref.key);
    if (value === undefined) {
      if (ref.optional) continue;
      throw new ContainerConfigError(
        kind === 'secret' ? `secret "${ref.name}" not found` : `configmap "${ref.name}" not found`,
      );
    }
    env[entry.name] = value;
  }
  return env;
}

export function expandArgv(argv: readonly string[], env: Readonly<Record<string, string>>): string[] {
  return argv.map((arg) => expandReferences(arg, (name) => env[name]));
}

export interface MountedPath {
  mountPath: string;
  realPath: string;
}

/**
 * Rewrites container paths to where the volumes really are (there is no mount namespace here): every occurrence of a
 * mount path as a whole path or a path prefix — a value `/var/run/lockstep/group.env`, a flag
 * `--env-file=/var/run/lockstep/group.env`, a path inside a shell script — points into the pod's directory.
 * The longest mount path wins.
 */
export function rewritePaths(value: string, mounts: readonly MountedPath[]): string {
  if (mounts.length === 0) return value;
  const sorted = [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length);
  const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(
    `(^|[^A-Za-z0-9_.\\/-])(${sorted.map((m) => escapeRegExp(m.mountPath)).join('|')})(?=$|[^A-Za-z0-9_.-])`,
    'g',
  );
  return value.replace(pattern, (_all, before: string, path: string) => {
    const mount = sorted.find((m) => m.mountPath === path);
    return before + (mount ? mount.realPath : path);
  });
}

/**
 * lockstep's own default paths (join flags in src/commands/join-flags.ts), given through their LOCKSTEP_* env twins
 * when the container mounts the volume there, so lockstep finds the files in the pod's directory without flags.
 */
const LOCKSTEP_PATH_DEFAULTS: readonly { mountPath: string; file: string; env: string }[] = [
  { mountPath: '/var/run/lockstep', file: 'group.env', env: 'LOCKSTEP_ENV_FILE' },
  { mountPath: '/var/run/secrets/lockstep', file: 'token', env: 'LOCKSTEP_TOKEN_FILE' },
];

export function lockstepPathEnv(mounts: readonly MountedPath[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const known of LOCKSTEP_PATH_DEFAULTS) {
    const mount = mounts.find((m) => m.mountPath === known.mountPath);
    if (mount) env[known.env] = `${mount.realPath}/${known.file}`;
  }
  return env;
}
