/**
 * The release `npm run package` builds (run by `npm run test:release` first, as CI does): krew archives of a
 * standalone `kubectl-lockstep` for linux/amd64 and linux/arm64, and the krew manifest with their sha256. The amd64
 * executable runs here with no Node on PATH, for --help and for real verbs against the test cluster's API server,
 * directly and as `kubectl lockstep`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { h100Slice, node } from '../kubectl/fixtures.js';
import { REPO_ROOT } from '../support/paths.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const TAG = `v${pkg.version}`;
const RELEASE = join(REPO_ROOT, 'dist', 'release');
const archive = (arch: string) => join(RELEASE, `kubectl-lockstep_${TAG}_linux_${arch}.tar.gz`);
// kubectl, but never node: the executable must not need it
const KUBECTL_DIR = execFileSync('sh', ['-c', 'dirname "$(command -v kubectl)"'], { encoding: 'utf8' }).trim();

let api: ApiServer;
let work: string;
let exe: string;

beforeAll(async () => {
  if (!existsSync(archive('amd64'))) throw new Error('no release in dist/release: run `npm run package` first');
  work = mkdtempSync(join(tmpdir(), 'lockstep-release-'));
  execFileSync('tar', ['-xzf', archive('amd64'), '-C', work]);
  exe = join(work, 'kubectl-lockstep');
  api = await startApiServer({ featureGates: { DRADeviceTaints: true } });
  for (const name of ['h100-a', 'h100-b']) api.store.create('nodes', node(name));
  api.store.create('resourceslices', h100Slice('h100-a'));
  api.store.create('resourceslices', h100Slice('h100-b', { unhealthy: { 'gpu-3': 'XID-79-fallen-off-bus' } }));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function runExe(file: string, args: string[]) {
  const r = await execa(file, args, {
    env: { PATH: `${work}:${KUBECTL_DIR}`, HOME: work },
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  return { status: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run package', () => {
  it('packs each archive with one executable, and the krew manifest carries their sha256', () => {
    const manifest = parse(readFileSync(join(RELEASE, 'lockstep.yaml'), 'utf8')) as {
      metadata: { name: string };
      spec: {
        version: string;
        platforms: { selector: { matchLabels: { arch: string } }; uri: string; sha256: string }[];
      };
    };
    expect(manifest.metadata.name).toBe('lockstep');
    expect(manifest.spec.version).toBe(TAG);
    expect(manifest.spec.platforms.map((p) => p.selector.matchLabels.arch)).toEqual(['amd64', 'arm64']);
    for (const p of manifest.spec.platforms) {
      const file = archive(p.selector.matchLabels.arch);
      expect(p.uri.endsWith(`/${TAG}/kubectl-lockstep_${TAG}_linux_${p.selector.matchLabels.arch}.tar.gz`)).toBe(true);
      expect(p.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      expect(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })).toBe('LICENSE\nkubectl-lockstep\n');
    }
    expect(readFileSync(join(RELEASE, 'install.yaml'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'install.yaml'), 'utf8'),
    );
  });

  it('builds the arm64 executable for arm64, with the program injected', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-arm64-'));
    try {
      execFileSync('tar', ['-xzf', archive('arm64'), '-C', dir]);
      const bytes = readFileSync(join(dir, 'kubectl-lockstep'));
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(bytes.readUInt16LE(18)).toBe(0xb7); // e_machine: EM_AARCH64
      // postject flips Node's sentinel fuse to :1 when it injects the blob
      expect(bytes.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1')).toBe(true);
      expect(bytes.includes('no lockstep agent has published devices')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the standalone kubectl-lockstep (linux/amd64), with no Node on PATH', () => {
  it('prints --help and the version of package.json', async () => {
    expect(existsSync(join(work, 'node'))).toBe(false);
    const help = await runExe(exe, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: kubectl-lockstep <verb> [flags]');
    expect(help.stdout).toMatch(/\n {2}check\b/);
    expect((await runExe(exe, ['--version'])).stdout).toBe(pkg.version);
  });

  it('runs a real verb against the test cluster, directly and as `kubectl lockstep`', async () => {
    const direct = await runExe(exe, ['nodes', '--kubeconfig', api.kubeconfigPath, '-o', 'name']);
    expect(direct).toMatchObject({ status: 0, stdout: 'node/h100-a\nnode/h100-b' });
    const check = await runExe('kubectl', ['lockstep', 'check', '--kubeconfig', api.kubeconfigPath]);
    expect(check.status).toBe(1);
    expect(check.stdout).toMatch(/device +h100-b\/gpu-3 +unhealthy: XID-79-fallen-off-bus/);
  });
});
