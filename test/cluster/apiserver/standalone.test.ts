import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('npm run cluster (test/cluster/main.ts)', () => {
  it('prints the kubeconfig path, serves kubectl, and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/cluster/main.ts'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await expect.poll(() => out, { timeout: 60_000 }).toMatch(/kubeconfig: (\S+)\n/);
    const path = /kubeconfig: (\S+)\n/.exec(out)?.[1] ?? '';
    const { stdout } = await run('kubectl', ['--kubeconfig', path, 'get', 'namespaces', '-o', 'name']);
    expect(stdout.split('\n')).toContain('namespace/kube-system');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('SIGINT: stopping');
    expect(existsSync(path)).toBe(false);
  }, 90_000);

  it('--dir that does not exist yet is created and holds the kubeconfig', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cluster-dir-'));
    const dir = join(base, 'new', 'nested');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/cluster/main.ts', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await expect.poll(() => out, { timeout: 60_000 }).toMatch(/kubeconfig: (\S+)\n/);
      expect(/kubeconfig: (\S+)\n/.exec(out)?.[1]).toBe(join(dir, 'admin.kubeconfig'));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(base, { recursive: true, force: true });
    }
  }, 90_000);
});
