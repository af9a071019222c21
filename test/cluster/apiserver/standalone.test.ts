import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
    await expect.poll(() => out, { timeout: 20_000 }).toMatch(/kubeconfig: (\S+)\n/);
    const path = /kubeconfig: (\S+)\n/.exec(out)?.[1] ?? '';
    const { stdout } = await run('kubectl', ['--kubeconfig', path, 'get', 'namespaces', '-o', 'name']);
    expect(stdout.split('\n')).toContain('namespace/kube-system');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('SIGINT: stopping');
    expect(existsSync(path)).toBe(false);
  });
});
