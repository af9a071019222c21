/**
 * TLS between members and the coordinator: a self-signed certificate for 127.0.0.1 made with the openssl CLI, a
 * coordinator serving it (`--tls-cert`/`--tls-key`), members trusting it (`--tls-ca`) or not.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EnvFile } from '../../../leader/member/env-file.js';
import { killAll, lockstep, startCoordinator } from '../support/processes.js';

afterEach(killAll);

let work: string;
let cert: string;
let key: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lockstep-tls-'));
  cert = join(work, 'tls.crt');
  key = join(work, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=lockstep-coordinator',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
});

function member(name: string, address: string, extra: readonly string[], timeout = '20s') {
  const envFile = join(work, name, 'group.env');
  const proc = lockstep(
    [
      'bootstrap',
      '--progress-interval',
      '300ms',
      '--timeout',
      timeout,
      '--leader-address',
      address,
      '--pod-name',
      'web-0',
      '--pod-ip',
      '127.0.0.60',
      ...extra,
    ],
    { LOCKSTEP_ENV_FILE: envFile },
  );
  return { proc, envFile };
}

describe('coordinator TLS', () => {
  it('admits a member that trusts its CA and refuses a plaintext member with a clear error', async () => {
    const coordinator = await startCoordinator([
      '--pod-name',
      'web-0',
      '--group-size',
      '1',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    // no --tls-ca: plaintext against a TLS server never gets through, and says why when it gives up
    const plain = member('plain', coordinator.address, [], '3s');
    expect(await plain.proc.exited).toBe(3);
    expect(plain.proc.stderr()).toMatch(/gave up after 3s: .*coordinator at 127\.0\.0\.1:\d+.*--tls-ca/);

    const secure = member('secure', coordinator.address, ['--tls-ca', cert]);
    expect(await secure.proc.exited).toBe(0);
    const file = JSON.parse(readFileSync(`${secure.envFile}.json`, 'utf8')) as EnvFile;
    expect(file).toMatchObject({ group: 'web', rank: 0, epoch: 1, size: 1 });
    expect(secure.proc.stdout()).toMatch(/group web released: rank 0 of 1, epoch 1/);
  });

  it('runs an engine over TLS: run joins and keeps its session to the coordinator', async () => {
    const coordinator = await startCoordinator([
      '--group',
      'web',
      '--group-size',
      '1',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    const run = lockstep(
      [
        'run',
        '--engine',
        'none',
        '--tls-ca',
        cert,
        '--leader-address',
        coordinator.address,
        '--pod-name',
        'web-0',
        '--pod-ip',
        '127.0.0.61',
        '--',
        '/bin/sh',
        '-c',
        'echo "engine rank $LOCKSTEP_RANK"',
      ],
      { LOCKSTEP_ENV_FILE: join(work, 'run', 'group.env') },
    );
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('engine rank 0');
    // the engine's reports travel over run's own session: it connected with TLS too
    await coordinator.proc.waitFor(/"state":"ENGINE_EXITED","exitCode":0/);
  });

  it('refuses a member whose CA does not sign the coordinator certificate', async () => {
    const other = join(work, 'other');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${other}.key`,
        '-out',
        `${other}.crt`,
        '-days',
        '1',
        '-subj',
        '/CN=someone-else',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    const coordinator = await startCoordinator([
      '--group-size',
      '1',
      '--group',
      'web',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    const m = member('wrong-ca', coordinator.address, ['--tls-ca', `${other}.crt`], '3s');
    expect(await m.proc.exited).toBe(3);
    expect(m.proc.stderr()).toContain('(TLS: does --tls-ca sign its certificate?)');
  });

  it('rejects incomplete or unreadable TLS flags with a usage error (exit 2)', async () => {
    const onlyCert = lockstep(['coordinator', '--group', 'web', '--group-size', '1', '--tls-cert', cert]);
    expect(await onlyCert.exited).toBe(2);
    expect(onlyCert.stderr()).toContain('--tls-cert and --tls-key go together: only --tls-cert was given');

    const missing = join(work, 'nope.key');
    const unreadable = lockstep([
      'coordinator',
      '--group',
      'web',
      '--group-size',
      '1',
      '--tls-cert',
      cert,
      '--tls-key',
      missing,
    ]);
    expect(await unreadable.exited).toBe(2);
    expect(unreadable.stderr()).toContain(`cannot read --tls-key ${missing}: ENOENT`);

    const badCa = member('bad-ca', '127.0.0.1:1', ['--tls-ca', join(work, 'nope.crt')]);
    expect(await badCa.proc.exited).toBe(2);
    expect(badCa.proc.stderr()).toContain(`cannot read --tls-ca ${join(work, 'nope.crt')}: ENOENT`);
  });
});
