import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, stop as stopEsbuild } from 'esbuild';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Claim } from '../../../agent/kubeletplugin/protos.js';
import { DraClient } from '../../cluster/kubelet/plugin-client.js';
import { claimObject } from './fixtures.js';

/**
 * kill -9 at random points of prepare and unprepare, in a loop, with the plugin as a real child process: after every
 * restart the state on disk must be consistent (every spec file has its checkpoint entry, byte for byte, no temp
 * files), and once the kubelet has repeated its unanswered calls, exactly the claims it believes prepared have specs.
 */
const REPO = join(import.meta.dirname, '../../..');
// Inside node_modules so that the bundle's external packages resolve from the repo.
const OUT = join(REPO, 'node_modules/.cache/lockstep-kubelet-crash');
const CHILD = join(OUT, 'crash-child.mjs');
const ITERATIONS = 14;
const CLAIMS = 24;

beforeAll(async () => {
  await mkdir(join(OUT, 'proto'), { recursive: true });
  await build({
    entryPoints: [join(import.meta.dirname, 'crash-child.ts')],
    outfile: CHILD,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
  });
  // esbuild's API keeps a service process for later builds: this file makes one
  await stopEsbuild();
  for (const name of await readdir(join(REPO, 'src/proto'))) {
    if (name.endsWith('.proto')) await copyFile(join(REPO, 'src/proto', name), join(OUT, 'proto', name));
  }
});

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function uid(i: number): string {
  return `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
}

function claimOf(i: number): Claim {
  return { namespace: 'default', name: `c${i}`, uid: uid(i) };
}

async function startChild(root: string): Promise<{ child: ChildProcess; report: Record<string, unknown> }> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, CRASH_ROOT: root },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const end = buffer.indexOf('\n');
      if (end !== -1) resolve(buffer.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before ready`)));
  });
  expect(line.startsWith('ready ')).toBe(true);
  return { child, report: JSON.parse(line.slice('ready '.length)) };
}

function killNow(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** What must hold on disk after any start: specs ⇔ checkpoint entries, contents equal, no temp files. */
async function checkConsistent(root: string): Promise<Set<string>> {
  const checkpoint = JSON.parse(await readFile(join(root, 'plug/checkpoint.json'), 'utf8')) as {
    claims: Record<string, { specFile: string; specContent: string }>;
  };
  const files = await readdir(join(root, 'cdi'));
  expect(files.filter((name) => name.startsWith('.'))).toEqual([]);
  const expected = Object.values(checkpoint.claims)
    .map((entry) => entry.specFile)
    .sort();
  expect(files.sort()).toEqual(expected);
  for (const entry of Object.values(checkpoint.claims)) {
    expect(await readFile(join(root, 'cdi', entry.specFile), 'utf8')).toBe(entry.specContent);
  }
  return new Set(Object.keys(checkpoint.claims));
}

describe('kill -9 during prepare and unprepare', () => {
  it('every restart converges, and the kubelet’s repeated calls finish the job', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kc-'));
    const apiClaims: Record<string, unknown> = {};
    for (let i = 0; i < CLAIMS; i++) {
      apiClaims[`default/c${i}`] = claimObject({
        name: `c${i}`,
        uid: uid(i),
        results: [
          { request: 'gpus', device: `gpu-${i % 8}` },
          { request: 'nic', device: `nic-0000-${['1a', '3c', '4d', '5e', '9c', 'bc', 'cc', 'dc'][i % 8]}-00-0` },
        ],
      });
    }
    await writeFile(join(root, 'claims.json'), JSON.stringify(apiClaims));

    // The kubelet's view: claims it got a successful prepare answer for, and the call it must repeat.
    const prepared = new Set<string>();
    let unfinished: { op: 'prepare' | 'unprepare'; claims: Claim[] } | undefined;
    const random = fc.sample(
      fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 }), fc.subarray([...Array(CLAIMS).keys()], { minLength: 1 })),
      {
        numRuns: ITERATIONS,
        seed: 20261122,
      },
    );
    let killsMidCall = 0;

    for (const [preparing, delayMs, indices] of random) {
      const { child } = await startChild(root);
      await checkConsistent(root);
      const client = new DraClient(join(root, 'plug/dra.sock'), 'v1.DRAPlugin', 5_000);
      try {
        // Like the kubelet: an unanswered call is repeated first, and now it completes.
        if (unfinished) {
          const call = unfinished;
          const answer =
            call.op === 'prepare' ? await client.prepare(call.claims) : await client.unprepare(call.claims);
          for (const claim of call.claims) {
            expect(answer.claims[claim.uid]?.error).toBe('');
            if (call.op === 'prepare') prepared.add(claim.uid);
            else prepared.delete(claim.uid);
          }
          unfinished = undefined;
        }
        const call = { op: preparing ? ('prepare' as const) : ('unprepare' as const), claims: indices.map(claimOf) };
        const pending = call.op === 'prepare' ? client.prepare(call.claims) : client.unprepare(call.claims);
        let killed = false;
        const timer = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, delayMs);
        const outcome = await pending.then(
          (answer) => ({ answer }),
          (error: unknown) => ({ error }),
        );
        clearTimeout(timer);
        if ('error' in outcome) {
          // Only our kill may break a call.
          expect(killed).toBe(true);
          killsMidCall++;
          unfinished = call;
        } else if ('answer' in outcome) {
          for (const claim of call.claims) {
            expect(outcome.answer.claims[claim.uid]?.error).toBe('');
            if (call.op === 'prepare') prepared.add(claim.uid);
            else prepared.delete(claim.uid);
          }
        }
      } finally {
        client.close();
        await killNow(child);
      }
    }

    // Final start: finish the last call, then the disk holds exactly the kubelet's prepared set.
    const { child } = await startChild(root);
    const client = new DraClient(join(root, 'plug/dra.sock'), 'v1.DRAPlugin', 5_000);
    try {
      if (unfinished) {
        const call = unfinished;
        if (call.op === 'prepare') {
          await client.prepare(call.claims);
          for (const claim of call.claims) prepared.add(claim.uid);
        } else {
          await client.unprepare(call.claims);
          for (const claim of call.claims) prepared.delete(claim.uid);
        }
      }
      expect([...(await checkConsistent(root))].sort()).toEqual([...prepared].sort());
    } finally {
      client.close();
      await killNow(child);
    }

    // Claims deleted from the API while the plugin was down are orphans: the next start drops them.
    const gone = [...prepared].slice(0, 3);
    for (const id of gone) delete apiClaims[`default/c${Number(id.slice(0, 8))}`];
    await writeFile(join(root, 'claims.json'), JSON.stringify(apiClaims));
    const last = await startChild(root);
    expect(last.report.claimsDropped).toHaveLength(gone.length);
    const left = await checkConsistent(root);
    for (const id of gone) expect(left.has(id)).toBe(false);
    await killNow(last.child);
    // At least some kills must have landed mid-call, or the test proves nothing.
    expect(killsMidCall).toBeGreaterThan(2);
  }, 120_000);
});
