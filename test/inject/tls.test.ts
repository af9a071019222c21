/**
 * `lockstep inject --tls-secret`: the coordinator serves TLS with the certificate of a kubernetes.io/tls Secret (the
 * shape cert-manager writes: tls.crt, tls.key, ca.crt) and members verify it with its ca.crt. The injected containers
 * are run for real on loopback: the Secret's files are laid out per volume as the kubelet mounts them (a Secret
 * volume with the items asked for, a projected volume with its one key), the containers' paths point there, and the
 * coordinator and bootstrap are the real programs with the arguments and environment inject wrote.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { injectText } from '../../src/inject/text.js';
import { rewritePaths } from '../cluster/pods/spec.js';
import { killAll, lockstep, startCoordinator } from '../leader/support/processes.js';

afterEach(killAll);

const SECRET = 'ddp-coordinator-tls';

interface Container {
  name: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  projected?: { sources: Array<{ secret?: { name: string; items?: Array<{ key: string; path: string }> } }> };
}
interface PodSpec {
  initContainers: Container[];
  containers: Container[];
  volumes: Volume[];
}

let work: string;
/** The Secret's data, as cert-manager's CA issuer writes it. */
const secretData: Record<string, string> = {};

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A CA, and a coordinator certificate it signs for `localhost` (the leader's name here) and 127.0.0.1. */
function makeCertificates(dir: string, caName: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, `${caName}.crt`);
  const caKey = join(dir, `${caName}.key`);
  const cert = join(dir, `${caName}-tls.crt`);
  const key = join(dir, `${caName}-tls.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    ca,
    '-days',
    '1',
    '-subj',
    `/CN=${caName}`,
  ]);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-CA',
    ca,
    '-CAkey',
    caKey,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=ddp-0.ddp',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { ca, cert, key };
}

function statefulSet(): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ddp
spec:
  serviceName: ddp
  replicas: 1
  selector:
    matchLabels: {app: ddp}
  template:
    metadata:
      labels: {app: ddp}
    spec:
      containers:
        - name: train
          image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
          command: [python3, -m, torch.distributed.run, train.py]
`;
}

function injectedSpec(tlsSecret?: string): PodSpec {
  const out = injectText(statefulSet(), { image: 'lockstep:test', ...(tlsSecret ? { tlsSecret } : {}) }).output;
  return (parse(out) as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

/** The kubelet's part: each Secret-backed volume as a directory holding the keys it selects. */
function mountVolumes(spec: PodSpec, root: string): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const v of spec.volumes) {
    const dir = join(root, v.name);
    mkdirSync(dir, { recursive: true });
    dirs.set(v.name, dir);
    const selections = [
      ...(v.secret && v.secret.secretName === SECRET ? [v.secret.items] : []),
      ...(v.projected?.sources ?? []).filter((s) => s.secret?.name === SECRET).map((s) => s.secret!.items),
    ];
    for (const items of selections) {
      for (const item of items ?? Object.keys(secretData).map((key) => ({ key, path: key }))) {
        writeFileSync(join(dir, item.path), secretData[item.key]!);
      }
    }
  }
  return dirs;
}

/** A container's view: its mount paths replaced by the volumes' directories, as the test cluster's pod runner does. */
function localize(c: Container, dirs: Map<string, string>): { args: string[]; env: Record<string, string> } {
  const mounts = (c.volumeMounts ?? []).map((m) => ({ mountPath: m.mountPath, realPath: dirs.get(m.name)! }));
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = rewritePaths(e.value, mounts);
  return { args: (c.args ?? []).map((a) => rewritePaths(a, mounts)), env };
}

/** Every file a container can read from the Secret-backed volumes it mounts. */
function secretFilesSeenBy(c: Container, dirs: Map<string, string>): string[] {
  return (c.volumeMounts ?? [])
    .filter((m) => m.name.startsWith('lockstep-tls'))
    .flatMap((m) => readdirSync(dirs.get(m.name)!).map((f) => `${m.name}/${f}`))
    .sort();
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lockstep-inject-tls-'));
  const own = makeCertificates(work, 'ca');
  secretData['tls.crt'] = readFileSync(own.cert, 'utf8');
  secretData['tls.key'] = readFileSync(own.key, 'utf8');
  secretData['ca.crt'] = readFileSync(own.ca, 'utf8');
});

describe('inject --tls-secret', () => {
  it("gives the coordinator the Secret's certificate and key, and every other container only its CA", () => {
    const spec = injectedSpec(SECRET);
    const dirs = mountVolumes(spec, join(work, 'layout'));
    const seen = Object.fromEntries(
      [...spec.initContainers, ...spec.containers].map((c) => [c.name, secretFilesSeenBy(c, dirs)]),
    );
    expect(seen).toEqual({
      'lockstep-coordinator': ['lockstep-tls/tls.crt', 'lockstep-tls/tls.key'],
      'lockstep-bootstrap': ['lockstep-tls-ca/ca.crt'],
      train: ['lockstep-tls-ca/ca.crt'],
    });
    const train = spec.containers[0]!;
    expect(train.env).toContainEqual({ name: 'LOCKSTEP_TLS_CA', value: '/var/run/secrets/lockstep-tls-ca/ca.crt' });
  });

  it('keeps TLS on when an injected manifest is injected again without the flag', () => {
    const once = injectText(statefulSet(), { image: 'lockstep:test', tlsSecret: SECRET }).output;
    const twice = injectText(once, { image: 'lockstep:test' });
    expect(twice.output).toBe(once);
    expect(twice.report.changes).toEqual([]);
  });

  it('runs the injected coordinator and bootstrap over real TLS on loopback; a member without the CA is refused', async () => {
    const spec = injectedSpec(SECRET);
    const dirs = mountVolumes(spec, join(work, 'run'));
    const coordinatorSpec = spec.initContainers.find((c) => c.name === 'lockstep-coordinator')!;
    const bootstrapSpec = spec.initContainers.find((c) => c.name === 'lockstep-bootstrap')!;
    const downward = { POD_NAME: 'ddp-0', POD_NAMESPACE: 'ml', POD_IP: '127.0.0.1', LOCKSTEP_RANK: '0' };

    const c = localize(coordinatorSpec, dirs);
    expect(c.args).toContain(`--tls-cert=${join(dirs.get('lockstep-tls')!, 'tls.crt')}`);
    const coordinator = await startCoordinator(c.args.slice(1), { ...c.env, ...downward });

    const b = localize(bootstrapSpec, dirs);
    const member = (name: string, env: Record<string, string>, timeout: string) =>
      lockstep(
        [
          ...b.args,
          `--leader-address=localhost:${coordinator.port}`,
          '--timeout',
          timeout,
          '--progress-interval',
          '300ms',
        ],
        { ...env, ...downward, LOCKSTEP_ENV_FILE: join(work, name, 'group.env') },
      );

    const plaintext = member('plaintext', {}, '3s');
    expect(await plaintext.exited).toBe(3);
    expect(plaintext.stderr()).toContain('(plaintext: if the coordinator serves TLS, pass --tls-ca)');

    const verified = member('verified', b.env, '20s');
    expect({ code: await verified.exited, stderr: verified.stderr() }).toMatchObject({ code: 0 });
    expect(verified.stdout()).toMatch(/group ddp released: rank 0 of 1, epoch 1/);
  });

  it('a member refuses a coordinator whose certificate its CA did not sign', async () => {
    const spec = injectedSpec(SECRET);
    const dirs = mountVolumes(spec, join(work, 'impostor'));
    // an impostor serves a certificate for the same names from another CA
    const impostor = makeCertificates(work, 'impostor');
    const coordinator = await startCoordinator([
      '--group=ddp',
      '--group-size=1',
      `--tls-cert=${impostor.cert}`,
      `--tls-key=${impostor.key}`,
    ]);
    const b = localize(spec.initContainers.find((c) => c.name === 'lockstep-bootstrap')!, dirs);
    const member = lockstep(
      [...b.args, `--leader-address=localhost:${coordinator.port}`, '--timeout', '3s', '--progress-interval', '300ms'],
      { ...b.env, POD_NAME: 'ddp-0', POD_IP: '127.0.0.1', LOCKSTEP_ENV_FILE: join(work, 'impostor', 'group.env') },
    );
    expect({ code: await member.exited, stderr: member.stderr() }).toMatchObject({ code: 3 });
    expect(member.stderr()).toContain('(TLS: does --tls-ca sign its certificate?)');
  });

  it('refuses a --tls-secret that is not a Secret name (exit 2)', async () => {
    const file = join(work, 'sts.yaml');
    writeFileSync(file, statefulSet());
    const bad = lockstep(['inject', '-f', file, '--tls-secret', 'Not_A/Name']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/^error: .*--tls-secret.*must be a Secret name/m);
  });
});
