/**
 * The launcher bootstrap installs on the shared volume, so engine images without node or lockstep can run
 * `<volume>/bin/lockstep run …`: installed from the real bundle, idempotent, switched atomically, skippable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installLauncher, LAUNCHER_SCRIPT } from '../../../leader/bootstrap/launcher.js';
import { bundlePath } from '../../support/build.js';
import { killAll, lockstep, startCoordinator } from '../support/processes.js';

afterEach(killAll);

const source = { node: process.execPath, entry: bundlePath('lockstep') };

describe('the launcher', () => {
  it('runs lockstep with its own node and bundle, and a second install changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-launcher-'));
    const first = await installLauncher(dir, source);
    expect(first).toEqual({ script: join(dir, 'bin', 'lockstep'), installed: true });
    expect(statSync(first.script).mode & 0o111).not.toBe(0);
    expect(readdirSync(join(dir, 'bin', 'lib'))).toContain('lockstep.mjs');
    expect(readdirSync(join(dir, 'bin', 'lib', 'proto'))).toContain('group.proto');
    // no node on PATH: the script uses the node beside it
    const help = execFileSync(first.script, ['run', '--help'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
    expect(help).toContain('run the engine with the group environment');
    const target = readlinkSync(join(dir, 'bin'));
    const again = await installLauncher(dir, source);
    expect(again.installed).toBe(false);
    expect(readlinkSync(join(dir, 'bin'))).toBe(target);
  });

  it('replaces a different launcher and leaves no temp or old copies behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-launcher-'));
    const bundle = mkdtempSync(join(tmpdir(), 'lockstep-bundle-'));
    writeFileSync(join(bundle, 'lockstep.mjs'), 'console.log("old")\n');
    await installLauncher(dir, { node: process.execPath, entry: join(bundle, 'lockstep.mjs') });
    const old = readlinkSync(join(dir, 'bin'));
    expect(execFileSync(join(dir, 'bin', 'lockstep'), [], { encoding: 'utf8' })).toBe('old\n');
    const now = await installLauncher(dir, source);
    expect(now.installed).toBe(true);
    expect(readlinkSync(join(dir, 'bin'))).not.toBe(old);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([readlinkSync(join(dir, 'bin'))]);
    expect(LAUNCHER_SCRIPT.startsWith('#!/bin/sh\n')).toBe(true);
  });

  it('is refused with a clear error when the bundle entry is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-launcher-'));
    await expect(installLauncher(dir, { node: process.execPath, entry: join(dir, 'nope.mjs') })).rejects.toThrow(
      /the bundle entry .*nope\.mjs does not exist/,
    );
  });

  it('bootstrap installs it beside the environment file; an engine container runs `bin/lockstep run` from there', async () => {
    const coordinator = await startCoordinator(['--group', 'solo', '--group-size', '1']);
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-volume-'));
    const boot = lockstep(['bootstrap', '--leader-address', coordinator.address, '--pod-name', 'solo-0'], {
      LOCKSTEP_ENV_FILE: join(dir, 'group.env'),
    });
    expect(await boot.exited).toBe(0);
    expect(boot.stdout()).toContain(`installed the launcher ${join(dir, 'bin', 'lockstep')}`);
    const out = execFileSync(
      join(dir, 'bin', 'lockstep'),
      ['run', '--engine', 'none', '--', '/bin/sh', '-c', 'echo "rank $LOCKSTEP_RANK of $LOCKSTEP_GROUP_SIZE"'],
      { env: { PATH: '/bin:/usr/bin', LOCKSTEP_ENV_FILE: join(dir, 'group.env') }, encoding: 'utf8' },
    );
    expect(out).toContain('rank 0 of 1');
  });

  it('bootstrap skips it with a log line when --install-launcher=false', async () => {
    const coordinator = await startCoordinator(['--group', 'solo', '--group-size', '1']);
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-volume-'));
    const boot = lockstep(
      ['bootstrap', '--install-launcher=false', '--leader-address', coordinator.address, '--pod-name', 'solo-0'],
      { LOCKSTEP_ENV_FILE: join(dir, 'group.env') },
    );
    expect(await boot.exited).toBe(0);
    expect(boot.stdout()).toContain('not installing the launcher (--install-launcher=false)');
    expect(existsSync(join(dir, 'bin'))).toBe(false);
  });
});
