/**
 * `npm run cluster -- --nodes …`, the playground, as a user runs it from the README: it prints a kubeconfig and a
 * PATH, the real kubectl and `kubectl lockstep` work with them and show the agents' devices, the example applies,
 * and Ctrl-C stops everything it started (the agents included).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { processTree } from '../support/child-reaper.js';

const run = promisify(execFile);

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

describe('npm run cluster -- --nodes (the playground)', () => {
  it('an unknown node kind is one error line and exit 2, before anything starts', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'test/cluster/main.ts', '--nodes', 'h100,a999']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect('code' in r ? r.code : 0).toBe(2);
    expect(r.stderr).toMatch(/^error: --nodes: unknown node kind "a999" \(accepted: h100, cpu, /);
  });

  it('--nodes h100,cpu: agents publish, kubectl lockstep shows them, the example applies, Ctrl-C stops all', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/cluster/main.ts', '--nodes', 'h100,cpu'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await expect.poll(() => out, { timeout: 240_000, interval: 500 }).toMatch(/\n {2}kubectl lockstep groups/);
    expect(out).toMatch(/ready: node-1 published \d+ devices, node-2 published \d+ devices/);
    const gpus = Number(/node-1 published (\d+) devices/.exec(out)?.[1]);
    expect(gpus).toBeGreaterThanOrEqual(8);
    const exports = /export KUBECONFIG=(\S+) PATH=(\S+):\$PATH/.exec(out);
    const [kubeconfig, bin] = [exports?.[1] ?? '', exports?.[2] ?? ''];
    const agentPids = [...out.matchAll(/agent node-\d \(\S+\): pid (\d+)/g)].map((m) => Number(m[1]));
    expect(agentPids).toHaveLength(2);
    const env = { ...process.env, KUBECONFIG: kubeconfig, PATH: `${bin}:${process.env.PATH}` };
    const nodes = await run('kubectl', ['get', 'nodes', '-o', 'name'], { env });
    expect(nodes.stdout.split('\n')).toEqual(expect.arrayContaining(['node/node-1', 'node/node-2']));
    const plugin = await run('kubectl', ['lockstep', 'nodes'], { env });
    expect(plugin.stdout).toMatch(/node-1/);
    const example = /kubectl apply -f (\S+)/.exec(out)?.[1] ?? '';
    const applied = await run('kubectl', ['apply', '-f', example], { env });
    expect(applied.stdout).toMatch(/statefulset\.apps\/\S+ created/);
    const tree = processTree(child.pid ?? 0);
    for (const pid of agentPids) expect(tree).toContain(pid);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('SIGINT: stopping');
    // what tsx started for itself (its esbuild service) ends when its stdin closes, a moment after the parent
    const alive = () =>
      tree
        .filter((pid) => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        })
        .map((pid) => `${pid} ${commandLine(pid)}`);
    await expect.poll(alive, { timeout: 15_000, interval: 250 }).toEqual([]);
  }, 360_000);
});
