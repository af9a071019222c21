/**
 * The pod runner: the container runtime of a simulated node. It runs a pod's containers as local processes, in the
 * kubelet's order: volumes first, then init containers one at a time (each must exit 0), native sidecars (init
 * containers with `restartPolicy: Always`: started, kept running, restarted whenever they exit), then the main
 * containers; restarts per the pod's restartPolicy with back-off; termination with the grace period (SIGTERM to the
 * container's process group, SIGKILL when the time is up, sidecars after the main containers).
 *
 * Each pod has its own loopback IP, its own directory (volumes, logs), and a tiny bin/ with `lockstep` and `python3`
 * standing in for its images (spec.ts). Node processes load netns-preload.mjs for cluster DNS and their own address.
 * The kubelet emulator calls start/stop and asks `status()` when it writes the pod's status (see kubelet/emulator.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../src/kube/client.js';
import { SERVICE_ACCOUNT_DIR } from '../../../src/kube/config.js';
import { EVENTS, resourcePath } from '../../../src/kube/resources.js';
import type { Pod } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { bundlePath } from '../../support/build.js';
import type { AddressPool } from './addresses.js';
import { ContainerProber, execWithTimeout, type ProbeKind } from './probes.js';
import {
  type ContainerSpec,
  containerArgv,
  containerEnv,
  expandArgv,
  isLockstepImage,
  type LocalPrograms,
  localArgv,
  lockstepPathEnv,
  type MountedPath,
  type PodSpecView,
  podSpecView,
  rewritePaths,
} from './spec.js';
import { readDataObject, setUpVolumes } from './volumes.js';

const NETNS_PRELOAD = join(import.meta.dirname, 'netns-preload.mjs');

export interface PodRunnerOptions {
  nodeName: string;
  /** the kubelet's client: TokenRequests, ConfigMaps, Secrets */
  client: KubeClient;
  /** pods' directories go here (one per pod UID) */
  dir: string;
  addresses: AddressPool;
  hostIP?: string;
  /** the cluster DNS hosts file (controllers/dns.ts) that pods' Node processes resolve names from */
  hostsFile?: string;
  /**
   * A kubeconfig for the pod's service account, given to its containers as KUBECONFIG (API access from the pod): the
   * automatic token (`token` undefined), or the token a container mounts at the service-account path.
   */
  kubeconfigFor?: (pod: Pod, token?: string) => string;
  programs?: Partial<LocalPrograms>;
  /** first restart back-off; doubles up to maxBackoffMs (kubelet: 10 s and 5 min; shorter here) */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** the env the container runtime adds from the CDI specs of the devices the container's claims hold */
  cdiEnv?: (pod: Pod, container: ContainerSpec) => Promise<Record<string, string>>;
  /** added to every container's environment (e.g. LOCKSTEP_LOG_LEVEL) */
  extraEnv?: Record<string, string>;
  /** something in a pod's status changed */
  onChange?: (uid: string) => void;
  log?: Logger;
}

type State =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; startedAt: string; finishedAt: string } };

interface Container {
  spec: ContainerSpec;
  kind: 'init' | 'sidecar' | 'main';
  restartCount: number;
  state: State;
  lastState?: State;
  child?: ChildProcess;
  exited?: Promise<void>;
  /** no further restarts (a main container done for good, or the pod stopping) */
  done: boolean;
  backoff?: NodeJS.Timeout;
  /** PIDs of every process this container started, for checks that nothing is left */
  pids: number[];
  /** its startup/liveness/readiness probes while it runs (sidecars and main containers) */
  prober?: ContainerProber;
  /** the container was killed for a failed startup or liveness probe (the next exit is that kill) */
  killedBy?: 'startup' | 'liveness';
}

/** What the runner knows of a pod's status; the kubelet emulator adds the DRA parts. */
export interface RunnerPodStatus {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  podIP: string;
  initialized: boolean;
  containersReady: boolean;
  message?: string;
  initContainerStatuses: Record<string, unknown>[];
  containerStatuses: Record<string, unknown>[];
}

interface PodInstance {
  uid: string;
  pod: Pod;
  spec: PodSpecView;
  ip: string;
  dir: string;
  logsDir: string;
  volumes: Map<string, string>;
  containers: Container[];
  initialized: boolean;
  stopping: boolean;
  failed?: string;
  driving?: Promise<void>;
}

const now = () => new Date().toISOString();

export class PodRunner {
  private readonly pods = new Map<string, PodInstance>();
  /** every process any container ever started here (leak checks look at these after pods are gone) */
  private readonly started: number[] = [];
  private readonly everRan = new Set<string>();
  private readonly log: Logger;
  private readonly programs: LocalPrograms;

  constructor(private readonly options: PodRunnerOptions) {
    this.log = (options.log ?? silentLogger()).child({ component: 'pod-runner', node: options.nodeName });
    this.programs = {
      node: options.programs?.node ?? process.execPath,
      lockstepBundle: options.programs?.lockstepBundle ?? bundlePath('lockstep'),
      python: options.programs?.python ?? '/usr/bin/python3',
    };
    mkdirSync(options.dir, { recursive: true });
  }

  /** Starts the pod's containers in the background; resolves once its IP is chosen. */
  async start(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    if (this.pods.has(uid)) return;
    const spec = podSpecView(pod);
    const dir = join(this.options.dir, `${pod.metadata.namespace}_${pod.metadata.name}_${uid.slice(0, 8)}`);
    const instance: PodInstance = {
      uid,
      pod,
      spec,
      ip: this.options.addresses.allocate(),
      dir,
      logsDir: join(dir, 'logs'),
      volumes: new Map(),
      containers: [
        ...spec.initContainers.map(
          (c): Container => ({
            spec: c,
            kind: c.restartPolicy === 'Always' ? 'sidecar' : 'init',
            restartCount: 0,
            state: { waiting: { reason: 'PodInitializing' } },
            done: false,
            pids: [],
          }),
        ),
        ...spec.containers.map(
          (c): Container => ({
            spec: c,
            kind: 'main',
            restartCount: 0,
            state: { waiting: { reason: 'PodInitializing' } },
            done: false,
            pids: [],
          }),
        ),
      ],
      initialized: false,
      stopping: false,
    };
    this.pods.set(uid, instance);
    this.everRan.add(uid);
    instance.driving = this.drive(instance).catch((error: unknown) => {
      instance.failed = error instanceof Error ? error.message : String(error);
      this.log.warn({ pod: pod.metadata.name, error: instance.failed }, 'pod failed');
      this.changed(instance);
    });
  }

  /** Stops every container (main ones first, then sidecars), SIGKILL after the grace period; frees the pod. */
  async stop(uid: string, gracePeriodSeconds?: number): Promise<void> {
    const instance = this.pods.get(uid);
    if (!instance) return;
    instance.stopping = true;
    const graceMs = 1000 * (gracePeriodSeconds ?? instance.spec.terminationGracePeriodSeconds);
    const deadline = Date.now() + graceMs;
    for (const c of instance.containers) {
      c.done = true;
      clearTimeout(c.backoff);
      c.prober?.stop();
    }
    const mains = instance.containers.filter((c) => c.kind !== 'sidecar');
    await Promise.all(mains.map((c) => this.terminate(c, deadline)));
    // sidecars stop after the main containers, in reverse order, with what is left of the grace period (≥ 2 s)
    const sidecars = instance.containers.filter((c) => c.kind === 'sidecar').reverse();
    for (const c of sidecars) await this.terminate(c, Math.max(deadline, Date.now() + 2000));
    await instance.driving;
    this.options.addresses.release(instance.ip);
    rmSync(join(instance.dir, 'volumes'), { recursive: true, force: true });
    this.pods.delete(uid);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.pods.keys()].map((uid) => this.stop(uid, 2)));
  }

  /** The pod's status as the runtime sees it; undefined for a pod it does not run. */
  status(uid: string): RunnerPodStatus | undefined {
    const instance = this.pods.get(uid);
    if (!instance) return undefined;
    const mains = instance.containers.filter((c) => c.kind === 'main');
    const inits = instance.containers.filter((c) => c.kind !== 'main');
    const allDone = mains.every((c) => c.done && 'terminated' in c.state);
    let phase: RunnerPodStatus['phase'] = instance.initialized ? 'Running' : 'Pending';
    if (instance.failed) phase = 'Failed';
    else if (instance.initialized && allDone && !instance.stopping) {
      phase = mains.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    return {
      phase,
      podIP: instance.ip,
      initialized: instance.initialized,
      containersReady:
        instance.initialized &&
        mains.every((c) => this.ready(c)) &&
        inits.filter((c) => c.kind === 'sidecar').every((c) => this.ready(c)),
      ...(instance.failed ? { message: instance.failed } : {}),
      initContainerStatuses: inits.map((c) => this.containerStatus(instance, c)),
      containerStatuses: mains.map((c) => this.containerStatus(instance, c)),
    };
  }

  /** Where a pod's containers write their output: `<dir>/<container>.log`. */
  logsDir(uid: string): string | undefined {
    return this.pods.get(uid)?.logsDir;
  }

  /** Every PID any container of any running pod started (for leak checks). */
  pids(): number[] {
    return [...this.pods.values()].flatMap((p) => p.containers.flatMap((c) => c.pids));
  }

  /** Every container process this runner ever started, running pods or not. */
  allPids(): number[] {
    return [...this.started];
  }

  /** Processes still alive from pods this runner no longer runs (their containers should have taken them along). */
  strayProcesses(): number[] {
    const gone = [...this.everRan].filter((uid) => !this.pods.has(uid));
    return gone.flatMap((uid) => markedProcesses(`${uid}/`, true));
  }

  /** The PID of a container's running process. */
  containerPid(uid: string, container: string): number | undefined {
    return this.pods.get(uid)?.containers.find((c) => c.spec.name === container)?.child?.pid;
  }

  uids(): string[] {
    return [...this.pods.keys()];
  }

  // ---------- the pod's life ----------

  private changed(instance: PodInstance): void {
    this.options.onChange?.(instance.uid);
  }

  private async drive(instance: PodInstance): Promise<void> {
    mkdirSync(instance.logsDir, { recursive: true });
    this.writeBin(instance);
    writeFileSync(join(instance.dir, 'etc-hosts'), etcHostsText(instance));
    // volumes: retried like the kubelet retries MountVolume.SetUp (a Secret created later still works)
    for (let attempt = 0; !instance.stopping; attempt++) {
      try {
        instance.volumes = await setUpVolumes(
          this.options.client,
          instance.pod,
          instance.spec.volumes,
          instance.spec.serviceAccountName,
          join(instance.dir, 'volumes'),
        );
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        for (const c of instance.containers) c.state = { waiting: { reason: 'ContainerCreating', message } };
        this.changed(instance);
        await sleep(Math.min(5000, 200 * 2 ** attempt));
      }
    }
    for (const c of instance.containers) {
      if (instance.stopping) return;
      if (c.kind === 'main') continue;
      if (c.kind === 'sidecar') {
        await this.launch(instance, c);
        continue;
      }
      // a regular init container: run to completion, again after a failure unless restartPolicy is Never
      for (;;) {
        await this.launch(instance, c);
        await c.exited;
        if (instance.stopping) return;
        const state = c.state;
        if ('terminated' in state && state.terminated.exitCode === 0) break;
        if (instance.spec.restartPolicy === 'Never') {
          instance.failed = `init container ${c.spec.name} failed`;
          this.changed(instance);
          await this.stopSidecars(instance);
          return;
        }
        if (!(await this.backoff(instance, c))) return;
      }
    }
    if (instance.stopping) return;
    instance.initialized = true;
    for (const c of instance.containers) if (c.kind === 'main') await this.launch(instance, c);
    this.changed(instance);
  }

  private async stopSidecars(instance: PodInstance): Promise<void> {
    for (const c of instance.containers.filter((x) => x.kind === 'sidecar').reverse()) {
      c.done = true;
      await this.terminate(c, Date.now() + 1000 * instance.spec.terminationGracePeriodSeconds);
    }
  }

  /** Waits the back-off before a restart; false when the pod stopped meanwhile. */
  private async backoff(instance: PodInstance, c: Container): Promise<boolean> {
    const initial = this.options.backoffMs ?? 500;
    const delay = Math.min(this.options.maxBackoffMs ?? 5000, initial * 2 ** Math.max(0, c.restartCount));
    c.lastState = c.state;
    c.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${instance.pod.metadata.name}_${instance.pod.metadata.namespace}(${instance.uid})`,
      },
    };
    this.changed(instance);
    await new Promise<void>((resolve) => {
      c.backoff = setTimeout(resolve, delay);
      if (c.done || instance.stopping) {
        clearTimeout(c.backoff);
        resolve();
      }
    });
    if (instance.stopping) return false;
    c.restartCount++;
    return true;
  }

  /** Starts one container process; sidecars and main containers are supervised (restarted per policy). */
  private async launch(instance: PodInstance, c: Container): Promise<void> {
    let argv: string[];
    let env: Record<string, string>;
    let mounts: MountedPath[];
    try {
      ({ argv, env, mounts } = await this.plan(instance, c.spec));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      c.state = { waiting: { reason: 'CreateContainerConfigError', message } };
      this.changed(instance);
      // the kubelet retries; so does this, unless the pod stops
      c.exited = (async () => {
        if (!(await this.backoff(instance, c))) return;
        c.restartCount--; // a config error is not a restart
        if (!instance.stopping) await this.launch(instance, c);
        await c.exited;
      })();
      return;
    }
    const log = openSync(join(instance.logsDir, `${c.spec.name}.log`), 'a');
    const startedAt = now();
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: instance.dir,
      env,
      detached: true, // its own process group: the whole container is signalled at once
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    c.child = child;
    if (child.pid) {
      c.pids.push(child.pid);
      this.started.push(child.pid);
    }
    c.state = { running: { startedAt } };
    this.log.info({ pod: instance.pod.metadata.name, container: c.spec.name, pid: child.pid, argv }, 'started');
    this.changed(instance);
    c.exited = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        // what the container started goes with it, as when a container's init process dies (its pid namespace ends)
        if (child.pid) killGroup(child.pid, 'SIGKILL');
        killMarked(`${instance.uid}/${c.spec.name}`);
        c.child = undefined;
        const exitCode = code ?? 128 + signalNumber(signal);
        c.state = {
          terminated: {
            exitCode,
            ...(signal ? { signal: signalNumber(signal) } : {}),
            reason: exitCode === 0 ? 'Completed' : 'Error',
            startedAt,
            finishedAt: now(),
          },
        };
        this.log.info({ pod: instance.pod.metadata.name, container: c.spec.name, exitCode }, 'exited');
        this.changed(instance);
        resolve();
      };
      child.once('error', (error) => {
        c.state = { waiting: { reason: 'RunContainerError', message: error.message } };
        finish(127, null);
      });
      child.once('exit', finish);
    });
    if (c.kind === 'init') return;
    c.killedBy = undefined;
    c.prober = this.prober(instance, c, env, mounts);
    c.prober?.start();
    void c.exited.then(() => {
      c.prober?.stop();
      return this.afterExit(instance, c);
    });
  }

  /**
   * The container's probes (probes.ts), or none. An exec probe runs its command the way the container's own command
   * runs (same env, paths into the pod's volumes, same program stand-ins), in the pod's directory.
   */
  private prober(
    instance: PodInstance,
    c: Container,
    env: Record<string, string>,
    mounts: readonly MountedPath[],
  ): ContainerProber | undefined {
    const { startupProbe: startup, livenessProbe: liveness, readinessProbe: readiness } = c.spec;
    if (!startup && !liveness && !readiness) return undefined;
    const names: Record<ProbeKind, string> = { startup: 'Startup', liveness: 'Liveness', readiness: 'Readiness' };
    return new ContainerProber(
      { startup, liveness, readiness },
      {
        podIP: instance.ip,
        ports: c.spec.ports ?? [],
        exec: (command, timeoutMs) => {
          const argv = expandArgv(command, env).map((arg, i) => (i === 0 ? arg : rewritePaths(arg, mounts)));
          let local: string[];
          try {
            local = localArgv(c.spec.image ?? '', argv, this.programs, existsSync);
          } catch (error) {
            // a probe's tools (`cat`, `test`, `sh`) are the image's: a bare name runs from the container's PATH
            if (!/^[\w.+-]+$/.test(argv[0] ?? '')) {
              return Promise.resolve({ code: 126, output: error instanceof Error ? error.message : String(error) });
            }
            local = argv;
          }
          return execWithTimeout(local, env, instance.dir, timeoutMs);
        },
      },
      {
        onFailure: (kind, message) => {
          this.log.info({ pod: instance.pod.metadata.name, container: c.spec.name, kind, message }, 'probe failed');
          void this.event(instance, 'Unhealthy', `${names[kind]} probe failed: ${message}`);
        },
        onKill: (kind, grace) => {
          c.killedBy = kind;
          const what = kind === 'startup' ? 'startup probe' : 'liveness probe';
          void this.event(instance, 'Killing', `Container ${c.spec.name} failed ${what}, will be restarted`, 'Normal');
          const graceSeconds = grace ?? instance.spec.terminationGracePeriodSeconds;
          void this.terminate(c, Date.now() + 1000 * graceSeconds);
        },
        onChange: () => this.changed(instance),
      },
    );
  }

  /** An Event on the pod, as the kubelet records probe failures and kills (best effort: a lost event is no failure). */
  private async event(instance: PodInstance, reason: string, message: string, type = 'Warning'): Promise<void> {
    const namespace = instance.pod.metadata.namespace ?? 'default';
    const at = now();
    try {
      await this.options.client.create(resourcePath(EVENTS, { namespace }), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${instance.pod.metadata.name}.`, namespace },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'Pod',
          name: instance.pod.metadata.name,
          namespace,
          uid: instance.uid,
        },
        reason,
        message,
        type,
        source: { component: 'kubelet', host: this.options.nodeName },
        reportingComponent: 'kubelet',
        reportingInstance: this.options.nodeName,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      });
    } catch (error) {
      this.log.debug({ error: String(error) }, 'cannot record an event');
    }
  }

  private async afterExit(instance: PodInstance, c: Container): Promise<void> {
    if (instance.stopping || c.done) return;
    const state = c.state;
    const code = 'terminated' in state ? state.terminated.exitCode : 1;
    const policy = instance.spec.restartPolicy;
    const restart = c.kind === 'sidecar' || policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    if (!restart) {
      c.done = true;
      const mains = instance.containers.filter((x) => x.kind === 'main');
      if (mains.every((x) => x.done)) await this.stopSidecars(instance);
      this.changed(instance);
      return;
    }
    if (!(await this.backoff(instance, c))) return;
    await this.launch(instance, c);
  }

  private async terminate(c: Container, deadline: number): Promise<void> {
    const child = c.child;
    if (!child?.pid) {
      await c.exited;
      return;
    }
    killGroup(child.pid, 'SIGTERM');
    const killed = await Promise.race([
      c.exited?.then(() => false),
      sleep(Math.max(0, deadline - Date.now())).then(() => true),
    ]);
    if (killed) {
      killGroup(child.pid, 'SIGKILL');
      await c.exited;
    }
  }

  /** The container's argv and environment: image stand-in, downward API, `$(VAR)`, paths into the pod's dir. */
  private async plan(
    instance: PodInstance,
    spec: ContainerSpec,
  ): Promise<{ argv: string[]; env: Record<string, string>; mounts: MountedPath[] }> {
    const namespace = instance.pod.metadata.namespace ?? 'default';
    const refs = new Map<string, Record<string, Buffer> | undefined>();
    for (const e of spec.env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const kind = e.valueFrom?.configMapKeyRef ? 'configMap' : 'secret';
      const key = `${kind}/${ref.name}`;
      if (!refs.has(key)) refs.set(key, await readDataObject(this.options.client, namespace, kind, ref.name));
    }
    const mounts: MountedPath[] = (spec.volumeMounts ?? []).flatMap((m) => {
      const dir = instance.volumes.get(m.name);
      if (!dir) return [];
      return [{ mountPath: m.mountPath.replace(/\/$/, ''), realPath: m.subPath ? join(dir, m.subPath) : dir }];
    });
    const own = containerEnv(spec, {
      pod: instance.pod,
      podIP: instance.ip,
      hostIP: this.options.hostIP ?? '127.0.0.1',
      lookup: (kind, name, key) => refs.get(`${kind}/${name}`)?.[key]?.toString('utf8'),
    });
    for (const [name, value] of Object.entries(own)) own[name] = rewritePaths(value, mounts);
    const argv = expandArgv(containerArgv(spec), own).map((arg, i) => (i === 0 ? arg : rewritePaths(arg, mounts)));
    const local = localArgv(spec.image ?? '', argv, this.programs, existsSync);
    // CDI edits come last, as the runtime applies them to the container it built from the pod spec
    const cdi = this.options.cdiEnv ? await this.options.cdiEnv(instance.pod, spec) : {};
    const search = [`${namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'];
    const env: Record<string, string> = {
      PATH: `${join(instance.dir, 'bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: instance.dir,
      HOSTNAME: instance.spec.hostname ?? instance.pod.metadata.name ?? '',
      LANG: 'C.UTF-8',
      NODE_OPTIONS: `--import=${pathToFileURL(NETNS_PRELOAD).href}`,
      TEST_CLUSTER_POD_IP: instance.ip,
      TEST_CLUSTER_CONTAINER: `${instance.uid}/${spec.name}`,
      TEST_CLUSTER_ETC_HOSTS: join(instance.dir, 'etc-hosts'),
      TEST_CLUSTER_DNS_SEARCH: search.join(' '),
      ...(this.options.hostsFile ? { TEST_CLUSTER_HOSTS_FILE: this.options.hostsFile } : {}),
      ...this.apiAccess(instance, mounts),
      ...(isLockstepImage(spec.image ?? '') || argv[0]?.endsWith('/lockstep') ? lockstepPathEnv(mounts) : {}),
      ...this.options.extraEnv,
      ...own,
      ...cdi,
    };
    return { argv: local, env, mounts };
  }

  /**
   * API access as the kubelet hands it out, through KUBECONFIG (no mount namespace here): a container that mounts a
   * volume at the service-account path uses the token in it, whatever its audience (the API server refuses a
   * foreign one); otherwise it gets the pod's automatic token unless the pod sets automountServiceAccountToken false
   * (the service account's own field is not read); otherwise nothing.
   */
  private apiAccess(instance: PodInstance, mounts: readonly MountedPath[]): { KUBECONFIG?: string } {
    const kubeconfigFor = this.options.kubeconfigFor;
    if (!kubeconfigFor) return {};
    const own = mounts.find((m) => m.mountPath === SERVICE_ACCOUNT_DIR);
    if (own) {
      const file = join(own.realPath, 'token');
      return existsSync(file) ? { KUBECONFIG: kubeconfigFor(instance.pod, readFileSync(file, 'utf8').trim()) } : {};
    }
    if (instance.spec.automountServiceAccountToken === false) return {};
    return { KUBECONFIG: kubeconfigFor(instance.pod) };
  }

  /** bin/lockstep and bin/python3 for `lockstep run -- python3 …` and shells that call them by name. */
  private writeBin(instance: PodInstance): void {
    const bin = join(instance.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const script = join(bin, 'lockstep');
    writeFileSync(
      script,
      `#!/bin/sh\nexec ${shellQuote(this.programs.node)} ${shellQuote(this.programs.lockstepBundle)} "$@"\n`,
    );
    chmodSync(script, 0o755);
    for (const name of ['python3', 'python']) {
      const link = join(bin, name);
      if (!existsSync(link)) symlinkSync(this.programs.python, link);
    }
  }

  /** Running, and its probes (if any) say started and ready. */
  private ready(c: Container): boolean {
    if (!('running' in c.state)) return false;
    return c.prober ? c.prober.state.started && c.prober.state.ready : true;
  }

  private containerStatus(instance: PodInstance, c: Container): Record<string, unknown> {
    const running = 'running' in c.state;
    return {
      name: c.spec.name,
      image: c.spec.image ?? '',
      imageID: '',
      ...(c.child?.pid || 'terminated' in c.state
        ? { containerID: `emulated://${instance.uid}/${c.spec.name}/${c.restartCount}` }
        : {}),
      ready: c.kind === 'init' ? 'terminated' in c.state && c.state.terminated.exitCode === 0 : this.ready(c),
      started: running && (c.prober?.state.started ?? true),
      restartCount: c.restartCount,
      state: c.state,
      ...(c.lastState ? { lastState: c.lastState } : {}),
    };
  }
}

/**
 * The hosts file the kubelet mounts at /etc/hosts (pkg/kubelet/kubelet_pods.go managedHostsFileContent): localhost
 * lines, then the pod's IP with its FQDN `<hostname>.<subdomain>.<namespace>.svc.cluster.local` and hostname.
 */
function etcHostsText(pod: { ip: string; spec: PodSpecView; pod: Pod }): string {
  const hostname = pod.spec.hostname ?? pod.pod.metadata.name ?? '';
  const namespace = pod.pod.metadata.namespace ?? 'default';
  const names = pod.spec.subdomain
    ? `${hostname}.${pod.spec.subdomain}.${namespace}.svc.cluster.local\t${hostname}`
    : hostname;
  return [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${pod.ip}\t${names}`,
    '',
  ].join('\n');
}

/**
 * Every process carrying the container's marker in its environment (TEST_CLUSTER_CONTAINER, inherited by anything the
 * container starts, in whatever process group or session): the stand-in for a container's pid namespace.
 */
export function markedProcesses(marker: string, prefix = false): number[] {
  const needle = Buffer.from(`TEST_CLUSTER_CONTAINER=${marker}${prefix ? '' : '\0'}`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`);
      const at = environ.indexOf(needle);
      if (at === 0 || (at > 0 && environ[at - 1] === 0)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function killMarked(marker: string): void {
  for (const pid of markedProcesses(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 };
function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (SIGNALS[signal] ?? 1) : 0;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
