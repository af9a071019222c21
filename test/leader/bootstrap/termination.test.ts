/**
 * `lockstep bootstrap` stopped by a signal, as when its pod is deleted while the init container waits: a real
 * bootstrap process gets a real SIGTERM (or SIGINT), handles it (exit 128 + n from its own handler, not Node's default
 * death by signal) with one `error:` line, well before its join would have timed out, and leaves the volume with what
 * it writes complete or absent: no environment file, no temp copies, a launcher only when whole.
 *
 * Threats: a signal while waiting at the barrier (the session stream must be cancelled or the process lingers); a
 * signal while the coordinator is not up (a backoff or DNS timer must not keep it alive); a signal in the middle of
 * the launcher copy (the half-built directory must go).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installLauncher } from '../../../leader/bootstrap/launcher.js';
import { freePort, killAll, lockstep, startCoordinator } from '../support/processes.js';

afterEach(killAll);

/** The volume holds no half-written thing: no temp entries, and every launcher copy there is complete. */
function expectCompleteOrAbsent(dir: string): void {
  const names = readdirSync(dir);
  expect(names.filter((n) => n.includes('.tmp-') || n.startsWith('.bin-'))).toEqual([]);
  for (const copy of names.filter((n) => n.startsWith('.lockstep-'))) {
    expect(existsSync(join(dir, copy, '.complete')), copy).toBe(true);
  }
}

function bootstrap(dir: string, leader: string, pod: string) {
  const envFile = join(dir, 'group.env');
  const proc = lockstep(
    ['bootstrap', '--leader-address', leader, '--pod-name', pod, '--timeout', '10m', '--progress-interval', '200ms'],
    { LOCKSTEP_ENV_FILE: envFile },
  );
  return { proc, envFile };
}

describe('bootstrap stopped by a signal', () => {
  it('SIGTERM while waiting at the barrier: exit 143 from its own handler, nothing written', async () => {
    const coordinator = await startCoordinator(['--group', 'web', '--group-size', '2']);
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-volume-'));
    const { proc, envFile } = bootstrap(dir, coordinator.address, 'web-1');
    await proc.waitFor(/joined group web as rank 1; waiting for the other members/);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(143);
    // exited with a status: the handler ran (Node's default would end the process by the signal itself)
    expect(proc.child.signalCode).toBeNull();
    expect(proc.stderr()).toBe(
      `error: received SIGTERM: stopped before the group formed: ${envFile} was not written\n`,
    );
    expect(existsSync(envFile)).toBe(false);
    expect(existsSync(`${envFile}.json`)).toBe(false);
    expectCompleteOrAbsent(dir);
  });

  it('SIGINT while the coordinator is not up yet: exit 130, not after the join timeout', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-volume-'));
    const { proc, envFile } = bootstrap(dir, `127.0.0.1:${port}`, 'db-1');
    await proc.waitFor(/waiting for the coordinator at 127\.0\.0\.1:\d+ .* to come up/);
    proc.child.kill('SIGINT');
    // the join would wait 10 minutes; this test's own timeout is far shorter
    expect(await proc.exited).toBe(130);
    expect(proc.child.signalCode).toBeNull();
    expect(proc.stderr()).toMatch(/^error: received SIGINT: stopped before the group formed: .* was not written\n$/);
    expect(existsSync(envFile)).toBe(false);
    expectCompleteOrAbsent(dir);
  });
});

describe('the launcher copy stopped by an abort', () => {
  it('an abort before it starts leaves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-volume-'));
    const bundle = mkdtempSync(join(tmpdir(), 'lockstep-bundle-'));
    writeFileSync(join(bundle, 'lockstep.mjs'), 'console.log("x")\n');
    const aborted = AbortSignal.abort(new Error('received SIGTERM'));
    await expect(
      installLauncher(dir, { node: process.execPath, entry: join(bundle, 'lockstep.mjs') }, aborted),
    ).rejects.toThrow('received SIGTERM');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an abort while it copies removes the half-built copy; bin is never switched to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-volume-'));
    const bundle = mkdtempSync(join(tmpdir(), 'lockstep-bundle-'));
    writeFileSync(join(bundle, 'lockstep.mjs'), 'console.log("x")\n');
    // many files, so the copy has many steps at which it notices the abort
    mkdirSync(join(bundle, 'proto'));
    for (let i = 0; i < 400; i++) writeFileSync(join(bundle, 'proto', `p${i}.proto`), `syntax = "proto3";\n// ${i}\n`);
    const controller = new AbortController();
    const installing = installLauncher(
      dir,
      { node: process.execPath, entry: join(bundle, 'lockstep.mjs') },
      controller.signal,
    );
    // abort once the temp copy exists
    const copying = () => readdirSync(dir).some((n) => n.includes('.tmp-'));
    for (let i = 0; i < 10_000 && !copying(); i++) await new Promise((r) => setImmediate(r));
    expect(copying()).toBe(true);
    controller.abort(new Error('received SIGTERM'));
    await expect(installing).rejects.toThrow('received SIGTERM');
    expect(existsSync(join(dir, 'bin'))).toBe(false);
    expectCompleteOrAbsent(dir);
  });
});
