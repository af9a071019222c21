/**
 * `kubectl lockstep nodes` and `kubectl lockstep devices -A` over 1,000 nodes / 8,000 devices (DESIGN.md budget:
 * ≤ 1.5 s). The real kubectl runs the bundled plugin against the test cluster's API server; each node's slice is the
 * eight GPUs the real discovery scan and slice builder publish for the recorded 8x H100 host, renamed per node, and
 * half the nodes' GPUs are held by claims, so `devices -A` joins holders too. Requests per run come from the API
 * server's counters. Peer: `kubectl get resourceslices -o json` over the same slices.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { DRIVER } from '../../src/contract/names.js';
import { startApiServer } from '../cluster/apiserver/index.js';
import { claim, node } from '../kubectl/fixtures.js';
import { realH100Slices } from '../kubectl/real-slices.js';
import { type BenchContext, type BenchRow, median } from './report.js';

const NODES = 1000;

export default async function bench(ctx: BenchContext): Promise<BenchRow[]> {
  const work = mkdtempSync(join(tmpdir(), 'bench-kubectl-'));
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(join(ctx.root, 'dist', 'plugin', 'kubectl-lockstep.mjs'), join(bin, 'kubectl-lockstep'));
  const api = await startApiServer({ featureGates: { DRADeviceTaints: true }, namespaces: ['ml'] });
  try {
    const [template] = await realH100Slices('template', join(work, 'template'));
    const gpus = template!.spec.devices!.filter((d) => d.attributes?.type?.string === 'gpu');
    for (let i = 0; i < NODES; i++) {
      const name = `gpu-node-${String(i).padStart(4, '0')}`;
      api.store.create('nodes', node(name));
      api.store.create('resourceslices', {
        ...template,
        metadata: { ...template!.metadata, generateName: `${name}-${DRIVER}-` },
        spec: {
          ...template!.spec,
          nodeName: name,
          pool: { name, generation: 1, resourceSliceCount: 1 },
          devices: gpus,
        },
      });
      if (i % 2 === 0) {
        const c = claim(
          'ml',
          `claim-${i}`,
          { name: `pod-${i}`, uid: `uid-pod-${i}` },
          gpus.map((g) => ({ pool: name, device: g.name })),
        );
        const created = api.store.create('resourceclaims', { ...c, status: undefined });
        api.store.updateStatus('resourceclaims', { ...created, status: c.status } as unknown as typeof created);
      }
    }
    ctx.log(`cluster: ${NODES} nodes, ${NODES * gpus.length} devices, ${NODES / 2} claims`);
    const env = { PATH: `${bin}:${process.env.PATH}`, HOME: work };
    const runs = ctx.quick ? 3 : 7;
    const measure = async (args: string[]) => {
      const times: number[] = [];
      const requests: number[] = [];
      let lines = 0;
      for (let i = 0; i < runs + 1; i++) {
        api.counters.reset();
        const start = performance.now();
        const r = await execa('kubectl', [...args, '--kubeconfig', api.kubeconfigPath], { env, extendEnv: false });
        const ms = performance.now() - start;
        if (i === 0) continue; // warm-up: page cache, kubectl's discovery cache
        times.push(ms);
        requests.push(api.counters.total({}));
        lines = r.stdout.split('\n').filter((l) => l !== '').length;
      }
      return { times, requests, lines, median: median(times) };
    };
    const peer = await measure(['get', 'resourceslices', '-o', 'json']);
    ctx.log(`kubectl get resourceslices -o json: median ${Math.round(peer.median)} ms, ${peer.requests[0]} requests`);
    const rows: BenchRow[] = [];
    for (const [id, args] of [
      ['kubectl.nodes', ['lockstep', 'nodes']],
      ['kubectl.devices', ['lockstep', 'devices', '-A']],
    ] as const) {
      const m = await measure([...args]);
      ctx.log(`kubectl ${args.join(' ')}: ${m.times.map((t) => Math.round(t)).join(', ')} ms; ${m.lines} lines`);
      rows.push({
        id,
        what: `kubectl ${args.join(' ')} over ${NODES} nodes / ${NODES * gpus.length} devices, whole process`,
        budget: '≤ 1.5 s',
        measured: `${Math.round(m.median)} ms (median of ${runs}), ${median(m.requests)} API requests`,
        peer: `kubectl get resourceslices -o json: ${Math.round(peer.median)} ms`,
        ratio: m.median / peer.median,
        withinBudget: m.median <= 1500,
        data: { times: m.times, requests: m.requests, lines: m.lines, peerTimes: peer.times },
      });
    }
    return rows;
  } finally {
    await api.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
