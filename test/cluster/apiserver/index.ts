/**
 * The Kubernetes API server double of the test cluster. `startApiServer()` listens on 127.0.0.1 (random port),
 * writes an admin kubeconfig, and returns handles for tests: kubeconfigs per user or service account, fault
 * injection, request counters and an in-process client. See test/cluster/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApiServerGateSettings,
  apiServerGates,
  type KubernetesVersion,
  servesListAttributeFields,
  versionInfo,
} from '../versions.js';
import { InProcessClient } from './client.js';
import { Faults, RequestCounters } from './faults.js';
import { gatedKinds, type WorkloadApiVersion } from './gated-kinds.js';

export type { WorkloadApiVersion } from './gated-kinds.js';

import { installClaimStatusAuthorization } from './claim-status-authz.js';
import { KINDS, KindRegistry, type KindSpec } from './kinds.js';
import { writeKubeconfig } from './kubeconfig.js';
import { OpenApi } from './openapi.js';
import { bootstrapRoles, Rbac } from './rbac.js';
import { Registry, SYSTEM_USER } from './registry.js';
import { ApiHandler } from './server.js';
import { Authenticator } from './serviceaccounts.js';
import { installAdmission, installValidation } from './setup.js';
import { Store } from './store.js';
import { tlsFor } from './tls.js';
import { TokenIssuer } from './tokens.js';
import type { UserInfo } from './types.js';

export type { KubeObject } from './types.js';

interface FeatureGates {
  /** KEP-5055 device taints: without it the server drops `spec.devices[].taints` silently, as a real one does. */
  DRADeviceTaints?: boolean;
  /**
   * KEP-4671 scheduling.k8s.io Workload/PodGroup, served at the version of the emulated release (`v1alpha1` for 1.35,
   * `v1alpha2` for 1.36, `v1beta1` for 1.37: test/cluster/versions.ts); off (not served, pod fields dropped) when unset.
   */
  GenericWorkload?: WorkloadApiVersion | false;
  /** resource.k8s.io/v1beta2 DeviceTaintRule (admins' taints by selector) */
  DRADeviceTaintRules?: boolean;
  /**
   * 1.36: writing ResourceClaim status.devices also needs `associated-node:` (or `arbitrary-node:`) update/patch on
   * the synthetic `resourceclaims/driver` subresource named after the driver; status.allocation and reservedFor need
   * `resourceclaims/binding`
   */
  DRAResourceClaimGranularStatusAuthorization?: boolean;
  /**
   * KEP-5491 list-typed device attribute values (`ints`, `bools`, `strings`, `versions`; alpha and off in 1.36 and
   * 1.37; not a gate of 1.35, which refuses it): off, the server drops them on write (unless the stored slice already
   * has one), so an attribute holding only a list is refused as empty
   */
  DRAListTypeAttributes?: boolean;
  /** DeviceClass spec.extendedResourceName (beta 1.36, GA 1.37) */
  DRAExtendedResource?: boolean;
}

export interface ApiServerOptions {
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  port?: number;
  /** Where kubeconfigs and TLS files go (default: a new temp dir, removed by stop()). */
  dir?: string;
  /**
   * HTTPS with a generated CA (default true). kubectl sends bearer tokens only over TLS, so plain HTTP serves
   * clients that do (client-node) and answers 401 to kubectl.
   */
  tls?: boolean;
  /** Watch history kept, in events; a watch from before it answers 410 Expired (default 10,000). */
  historySize?: number;
  /** How often watches that allow bookmarks get a BOOKMARK (default 5 s; the real server: about a minute). */
  bookmarkIntervalMs?: number;
  /**
   * The Kubernetes release to emulate (test/cluster/versions.ts): gate defaults and GET /version. Explicit
   * `featureGates` win. Without it: the 1.34 server with every optional gate off.
   */
  version?: KubernetesVersion;
  featureGates?: FeatureGates;
  /**
   * Pods on a node are deleted gracefully (deletionTimestamp, then the kubelet deletes them), as on a real cluster.
   * Default true; false only for tests with no kubelet, where pods go at once.
   */
  podGracefulDeletion?: boolean;
  /** Namespaces created at start besides default, kube-system, kube-public, kube-node-lease. */
  namespaces?: string[];
  /** Extra kinds (one table entry each). */
  extraKinds?: KindSpec[];
  /**
   * Serve and validate resource.k8s.io/v1 and LeaderWorkerSet with the official documents of ../shared/k8s where
   * they exist (default true). false uses the authored schemas, as on a fresh clone without ../shared, so tests can
   * check those where ../shared exists too.
   */
  officialSchemas?: boolean;
  clock?: () => number;
}

/** Who a kubeconfig authenticates as. */
type Identity =
  | string
  | { user: string; groups?: string[]; extra?: Record<string, string[]> }
  | {
      serviceAccount: { namespace: string; name: string };
      /** Binds the token to this pod (its node too, when scheduled), as a projected token is. */
      pod?: string;
      audiences?: string[];
      expirationSeconds?: number;
    }
  /** A token someone already holds (a pod's mounted token), used as it is; `label` names the kubeconfig's user. */
  | { bearerToken: string; label: string };

export interface ApiServer {
  url: string;
  /** the emulated release, when one was asked for */
  version?: KubernetesVersion;
  /** the gates in force (the version's defaults with explicit settings on top) */
  gates: ApiServerGateSettings;
  /** Admin kubeconfig (user in group system:masters). */
  kubeconfigPath: string;
  caPem?: string;
  adminToken: string;
  /** Writes a kubeconfig for the identity and returns its path. Service accounts must exist first. */
  kubeconfigFor(identity: Identity, namespace?: string): string;
  /** A bearer token for the identity (static token for users, a TokenRequest JWT for service accounts). */
  tokenFor(identity: Identity): string;
  faults: Faults;
  counters: RequestCounters;
  /** In-process access to the same objects, as the server itself (no RBAC, same validation and watches). */
  store: InProcessClient;
  registry: Registry;
  openWatches(): number;
  stop(): Promise<void>;
}

const client0 = (registry: Registry) => new InProcessClient(registry);

const ADMIN: UserInfo = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  const ownDir = !options.dir;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'lockstep-apiserver-'));
  // `npm run cluster -- --dir <path>` makes the directory when it is missing, as a user expects.
  mkdirSync(dir, { recursive: true });
  const clock = options.clock ?? Date.now;
  const gates = apiServerGates(options.version, options.featureGates);
  const workloads = gates.GenericWorkload || undefined;
  const gated = gatedKinds({ workloads, deviceTaintRules: gates.DRADeviceTaintRules });
  const kinds = new KindRegistry([...KINDS, ...gated, ...(options.extraKinds ?? [])]);
  const store = new Store(options.historySize ?? 10_000);
  const registry = new Registry(kinds, store, clock);
  registry.podGracefulDeletion = options.podGracefulDeletion ?? true;
  const auth = new Authenticator(registry, new TokenIssuer(), undefined, clock);
  const rbac = new Rbac(registry);
  const faults = new Faults();
  const counters = new RequestCounters();
  const officialSchemas = options.officialSchemas ?? true;
  const listAttributes = {
    fields: servesListAttributeFields(options.version, gates.DRAListTypeAttributes),
    gate: gates.DRAListTypeAttributes,
  };
  installValidation(registry, { deviceTaints: gates.DRADeviceTaints, listAttributes, workloads, officialSchemas });
  installAdmission(registry);
  if (gates.DRAResourceClaimGranularStatusAuthorization) installClaimStatusAuthorization(registry, rbac);

  const adminToken = randomBytes(24).toString('hex');
  auth.addStaticToken(adminToken, ADMIN);

  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...(options.namespaces ?? [])]) {
    if (!store.get('namespaces', undefined, ns))
      registry.create(
        kinds.lookup('', 'v1', 'namespaces')!,
        undefined,
        { metadata: { name: ns } },
        { user: SYSTEM_USER },
      );
  }

  const byGroup = new Map<string, string[]>();
  for (const k of kinds.all) if (!k.virtual) byGroup.set(k.group, [...(byGroup.get(k.group) ?? []), k.plural]);
  client0(registry).apply(bootstrapRoles(byGroup));

  let url = '';
  const handler = new ApiHandler({
    kinds,
    registry,
    faults,
    counters,
    rbac,
    auth,
    openapi: new OpenApi(kinds, officialSchemas, listAttributes.fields),
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 5000,
    serverAddress: () => new URL(url).host,
    version: versionInfo(options.version),
  });
  const tls = (options.tls ?? true) ? tlsFor(dir, host) : undefined;
  const server: Server = tls
    ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler.handle)
    : createHttpServer(handler.handle);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `${tls ? 'https' : 'http'}://${host}:${port}`;

  const client = client0(registry);
  const userTokens = new Map<string, string>();

  const tokenFor = (identity: Identity): string => {
    if (typeof identity !== 'string' && 'bearerToken' in identity) return identity.bearerToken;
    if (typeof identity === 'string' || 'user' in identity) {
      const id = typeof identity === 'string' ? { user: identity } : identity;
      if (id.user === ADMIN.username) return adminToken;
      const key = JSON.stringify(id);
      let token = userTokens.get(key);
      if (!token) {
        token = randomBytes(24).toString('hex');
        auth.addStaticToken(token, {
          username: id.user,
          groups: [...(id.groups ?? []), 'system:authenticated'],
          ...(id.extra ? { extra: id.extra } : {}),
        });
        userTokens.set(key, token);
      }
      return token;
    }
    const { namespace, name } = identity.serviceAccount;
    const pod = identity.pod ? client.get('pods', identity.pod, namespace) : undefined;
    const tr = auth.tokenRequest(namespace, name, {
      spec: {
        audiences: identity.audiences,
        expirationSeconds: identity.expirationSeconds ?? 3600,
        ...(pod
          ? { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid } }
          : {}),
      },
    });
    return String((tr.status as { token: string }).token);
  };

  let counter = 0;
  const kubeconfigFor = (identity: Identity, namespace?: string): string => {
    const label =
      typeof identity === 'string'
        ? identity
        : 'bearerToken' in identity
          ? identity.label
          : 'user' in identity
            ? identity.user
            : `system:serviceaccount:${identity.serviceAccount.namespace}:${identity.serviceAccount.name}`;
    const file = join(dir, `kubeconfig-${++counter}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}.yaml`);
    return writeKubeconfig(file, { server: url, token: tokenFor(identity), user: label, caPem: tls?.caPem, namespace });
  };

  const kubeconfigPath = writeKubeconfig(join(dir, 'admin.kubeconfig'), {
    server: url,
    token: adminToken,
    user: ADMIN.username,
    caPem: tls?.caPem,
  });

  return {
    url,
    ...(options.version ? { version: options.version } : {}),
    gates,
    kubeconfigPath,
    caPem: tls?.caPem,
    adminToken,
    kubeconfigFor,
    tokenFor,
    faults,
    counters,
    store: client,
    registry,
    openWatches: () => handler.watchCount,
    stop: async () => {
      handler.dropWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
