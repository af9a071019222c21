/**
 * The three clients users bring, each driven as its users drive it, behind one interface so the conformance suite can
 * run the same check through all of them: the real `kubectl` on PATH, `@kubernetes/client-node`, and Debian's
 * python3-kubernetes (through `python_client.py`). Each answers in the same plain shape, so a check's expectation is
 * written once and a client whose wire habits differ (python's `watch=True`, kubectl's protobuf bodies) shows up as a
 * different answer.
 *
 * Every process a driver starts is its own process group and is killed when the driver is closed, even when a check
 * times out.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

const PYTHON = '/usr/bin/python3';
const PYTHON_DRIVER = join(import.meta.dirname, 'python_client.py');

export interface VersionSeen {
  gitVersion: string;
  platform: string;
  gitCommit: string;
}

export interface WatchSeen {
  type: string | null;
  name?: string;
}

export interface DeleteSeen {
  deletionTimestamp: boolean;
  grace: number | null;
}

/** What a server-side apply of `data.k` gave: the object's data and managers, or the conflict's first line. */
export interface ApplySeen {
  data?: Record<string, string>;
  managers?: string[];
  conflict?: string;
}

function configMapApplied(namespace: string, value: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace }, data: { k: value } };
}

export type ClientName = 'kubectl' | 'client-node' | 'python-kubernetes';

export interface ConformanceClient {
  readonly name: ClientName;
  version(): Promise<VersionSeen>;
  /** Opens a watch on the configmaps of `namespace`, creates configmap `name`, reports the first event. */
  watchCreate(namespace: string, name: string): Promise<WatchSeen>;
  /** Lists the configmaps of `namespace` in pages of `limit`; names in order. */
  pagedList(namespace: string, limit: number): Promise<string[]>;
  /** Deletes a pod with the client's defaults. */
  deletePod(namespace: string, name: string): Promise<DeleteSeen>;
  /** Server-side applies configmap `applied` with `data.k=value` as `manager`, forcing conflicts when asked. */
  apply(namespace: string, manager: string, value: string, force: boolean): Promise<ApplySeen>;
  close(): Promise<void>;
}

/** Whether python3-kubernetes is importable (CI installs it; elsewhere its checks are reported as skipped). */
export function pythonKubernetesAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import kubernetes'], { stdio: 'ignore' }).status === 0;
}

function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

class Children {
  private readonly live = new Set<ChildProcess>();

  spawn(command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.live.add(child);
    child.on('exit', () => this.live.delete(child));
    return child;
  }

  /** Runs to completion; stdout, or the failure with its stderr. */
  async run(
    command: string,
    args: string[],
    timeoutMs = 30_000,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = this.spawn(command, args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    clearTimeout(timer);
    return { code, stdout, stderr };
  }

  closeAll(): void {
    for (const child of this.live) killGroup(child);
    this.live.clear();
  }
}

/** The first complete JSON object at the start of `text`, or undefined while it is still arriving. */
function firstJsonObject(text: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return JSON.parse(text.slice(0, i + 1));
  }
  return undefined;
}

export class KubectlClient implements ConformanceClient {
  readonly name = 'kubectl';
  private readonly children = new Children();

  constructor(
    private readonly kubeconfig: string,
    private readonly scratchDir: string,
  ) {}

  async kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.children.run('kubectl', ['--kubeconfig', this.kubeconfig, ...args]);
  }

  async ok(...args: string[]): Promise<string> {
    const r = await this.kubectl(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  async version(): Promise<VersionSeen> {
    const out = JSON.parse(await this.ok('version', '-o', 'json')) as { serverVersion: VersionSeen };
    const { gitVersion, platform, gitCommit } = out.serverVersion;
    return { gitVersion, platform, gitCommit };
  }

  async watchCreate(namespace: string, name: string): Promise<WatchSeen> {
    const child = this.children.spawn('kubectl', [
      '--kubeconfig',
      this.kubeconfig,
      'get',
      'configmaps',
      '-n',
      namespace,
      '--watch-only',
      '--output-watch-events',
      '-o',
      'json',
    ]);
    let stdout = '';
    const first = new Promise<unknown>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
        const event = firstJsonObject(stdout.trimStart());
        if (event !== undefined) resolve(event);
      });
      child.on('close', (code) => reject(new Error(`kubectl get -w ended (${code}) before an event: ${stdout}`)));
    });
    first.catch(() => undefined); // observed below; a failed create must not leave it unhandled
    const timeout = setTimeout(() => killGroup(child), 15_000);
    try {
      // kubectl has no "watch is open" signal: create after it has had time to list and open the watch.
      await new Promise((r) => setTimeout(r, 1500));
      await this.createConfigMap(namespace, name);
      const event = (await first) as { type: string; object: { metadata: { name: string } } };
      return { type: event.type, name: event.object.metadata.name };
    } finally {
      clearTimeout(timeout);
      killGroup(child);
    }
  }

  /** `kubectl create configmap`: a protobuf body, as kubectl's typed client sends it. */
  async createConfigMap(namespace: string, name: string): Promise<void> {
    await this.ok('create', 'configmap', name, '-n', namespace, '--from-literal=k=v');
  }

  async pagedList(namespace: string, limit: number): Promise<string[]> {
    const out = await this.ok('get', 'configmaps', '-n', namespace, `--chunk-size=${limit}`, '-o', 'name');
    return out
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.replace(/^configmap\//, ''));
  }

  async deletePod(namespace: string, name: string): Promise<DeleteSeen> {
    await this.ok('delete', 'pod', name, '-n', namespace, '--wait=false');
    const pod = JSON.parse(await this.ok('get', 'pod', name, '-n', namespace, '-o', 'json')) as {
      metadata: { deletionTimestamp?: string; deletionGracePeriodSeconds?: number };
    };
    return {
      deletionTimestamp: pod.metadata.deletionTimestamp !== undefined,
      grace: pod.metadata.deletionGracePeriodSeconds ?? null,
    };
  }

  async apply(namespace: string, manager: string, value: string, force: boolean): Promise<ApplySeen> {
    const file = join(this.scratchDir, `apply-${manager}-${value}.json`);
    writeFileSync(file, JSON.stringify(configMapApplied(namespace, value)));
    const r = await this.kubectl(
      'apply',
      '--server-side',
      '--field-manager',
      manager,
      ...(force ? ['--force-conflicts'] : []),
      '-f',
      file,
      '-o',
      'json',
      '--show-managed-fields',
    );
    if (r.code !== 0) return { conflict: r.stderr.split('\n')[0].replace(/^error: /, '') };
    const out = JSON.parse(r.stdout) as k8s.V1ConfigMap;
    return { data: out.data, managers: (out.metadata?.managedFields ?? []).map((e) => e.manager ?? '').sort() };
  }

  async close(): Promise<void> {
    this.children.closeAll();
  }
}

export class ClientNodeClient implements ConformanceClient {
  readonly name = 'client-node';
  readonly config = new k8s.KubeConfig();
  private readonly aborts = new Set<AbortController>();

  constructor(kubeconfig: string) {
    this.config.loadFromFile(kubeconfig);
  }

  get core(): k8s.CoreV1Api {
    return this.config.makeApiClient(k8s.CoreV1Api);
  }

  async version(): Promise<VersionSeen> {
    const info = await this.config.makeApiClient(k8s.VersionApi).getCode();
    return { gitVersion: info.gitVersion, platform: info.platform, gitCommit: info.gitCommit };
  }

  async watchCreate(namespace: string, name: string): Promise<WatchSeen> {
    const watch = new k8s.Watch(this.config);
    const seen = new Promise<WatchSeen>((resolve, reject) => {
      watch
        .watch(
          `/api/v1/namespaces/${namespace}/configmaps`,
          { allowWatchBookmarks: true },
          (type, obj: k8s.V1ConfigMap) => {
            if (type !== 'BOOKMARK') resolve({ type, name: obj.metadata?.name });
          },
          (err: unknown) => {
            if (err) reject(err);
          },
        )
        .then((controller) => this.aborts.add(controller), reject);
    });
    await new Promise((r) => setTimeout(r, 300));
    await this.core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { k: 'v' } } });
    const event = await seen;
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
    return event;
  }

  async pagedList(namespace: string, limit: number): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.core.listNamespacedConfigMap({ namespace, limit, _continue: token });
      names.push(...page.items.map((i) => i.metadata?.name ?? ''));
      token = page.metadata?._continue;
    } while (token);
    return names;
  }

  async deletePod(namespace: string, name: string): Promise<DeleteSeen> {
    const out = (await this.core.deleteNamespacedPod({ namespace, name })) as k8s.V1Pod;
    return {
      deletionTimestamp: out.metadata?.deletionTimestamp !== undefined,
      grace: out.metadata?.deletionGracePeriodSeconds ?? null,
    };
  }

  async apply(namespace: string, manager: string, value: string, force: boolean): Promise<ApplySeen> {
    try {
      const out = await this.core.patchNamespacedConfigMap(
        { namespace, name: 'applied', body: configMapApplied(namespace, value), fieldManager: manager, force },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
      );
      return { data: out.data, managers: (out.metadata?.managedFields ?? []).map((e) => e.manager ?? '').sort() };
    } catch (err) {
      const e = err as { code?: number; body?: string };
      if (e.code !== 409 || !e.body) throw err;
      return { conflict: (JSON.parse(e.body) as { message: string }).message.split('\n')[0] };
    }
  }

  async close(): Promise<void> {
    for (const a of this.aborts) a.abort();
  }
}

export class PythonClient implements ConformanceClient {
  readonly name = 'python-kubernetes';
  private readonly children = new Children();

  constructor(
    private readonly kubeconfig: string,
    private readonly scratchDir: string,
  ) {}

  /** Runs one check of python_client.py; its JSON answer. */
  async check<T>(check: string, namespace: string, ...args: string[]): Promise<T> {
    const r = await this.children.run(PYTHON, [PYTHON_DRIVER, this.kubeconfig, check, namespace, ...args]);
    if (r.code !== 0) throw new Error(`python_client.py ${check}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** A JSON file for a check that takes a body. */
  writeJson(name: string, value: unknown): string {
    const path = join(this.scratchDir, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  }

  version(): Promise<VersionSeen> {
    return this.check('version', '-');
  }

  watchCreate(namespace: string, name: string): Promise<WatchSeen> {
    return this.check('watch', namespace, name);
  }

  async pagedList(namespace: string, limit: number): Promise<string[]> {
    return (await this.check<{ names: string[] }>('paged-list', namespace, String(limit))).names;
  }

  deletePod(namespace: string, name: string): Promise<DeleteSeen> {
    return this.check('delete-pod', namespace, name);
  }

  async apply(namespace: string, manager: string, value: string, force: boolean): Promise<ApplySeen> {
    const out = await this.check<ApplySeen & { error?: { status: number; message: string } }>(
      'apply',
      namespace,
      manager,
      value,
      force ? 'force' : 'no-force',
    );
    if (out.error) {
      if (out.error.status !== 409) throw new Error(`apply: ${out.error.message}`);
      return { conflict: out.error.message.split('\n')[0] };
    }
    return out;
  }

  async close(): Promise<void> {
    this.children.closeAll();
  }
}
