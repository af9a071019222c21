/**
 * The real workload check: four `lockstep run` processes join a group on loopback and start Debian's PyTorch, which
 * runs a gloo all-reduce using nothing but the environment lockstep gives it (init_method env://).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, killAll, lockstep, startCoordinator } from './support/processes.js';

afterEach(killAll);

const PYTHON = '/usr/bin/python3';

function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch.distributed'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

const ALL_REDUCE = [
  'import torch, torch.distributed as dist',
  'dist.init_process_group("gloo", init_method="env://")',
  'r = dist.get_rank()',
  't = torch.tensor([float(r + 1)])',
  'dist.all_reduce(t)',
  'print(f"rank={r} world={dist.get_world_size()} sum={t.item():.0f}", flush=True)',
  'dist.destroy_process_group()',
].join('\n');

describe.skipIf(!hasTorch())('torch.distributed through lockstep', () => {
  it('4 members run a gloo all-reduce with only the environment lockstep gives them', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lockstep-torch-'));
    const masterPort = await freePort();
    const coordinator = await startCoordinator([
      '--group',
      'torch',
      '--group-size',
      '4',
      '--master-port',
      String(masterPort),
    ]);
    const members = [0, 1, 2, 3].map((i) =>
      lockstep(
        [
          'run',
          '--engine',
          'torch',
          '--leader-address',
          coordinator.address,
          '--pod-name',
          `torch-${i}`,
          '--pod-ip',
          `127.0.0.${60 + i}`,
          '--',
          PYTHON,
          '-c',
          ALL_REDUCE,
        ],
        // no bootstrap ran: run joins by itself and leaves the file for the record
        { LOCKSTEP_ENV_FILE: join(work, `m${i}`, 'group.env'), GLOO_SOCKET_IFNAME: 'lo' },
      ),
    );
    const codes = await Promise.all(members.map((m) => m.exited));
    const outputs = members.map((m) => m.stdout().trim());
    expect(codes, members.map((m) => m.stderr()).join('\n')).toEqual([0, 0, 0, 0]);
    expect(outputs).toEqual([0, 1, 2, 3].map((r) => `rank=${r} world=4 sum=10`));
  }, 120_000);
});
