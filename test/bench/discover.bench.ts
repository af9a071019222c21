/**
 * `lockstep discover -o json` as a whole process (the bundle in dist/), on the recorded 8x H100 + 14-NIC node
 * (test/cluster/nodes, h100-hgx) and on this machine, against a script doing the same job with systeminformation
 * (`graphics()` + `networkInterfaces()`, also a whole process). systeminformation reads only the live machine, so its
 * figure is for this machine in both rows; what each found is compared in the row's data.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Inventory } from '../../agent/discovery/inventory.js';
import { buildSimulatedNode } from '../cluster/nodes/index.js';
import { type BenchContext, type BenchRow, median } from './report.js';

interface Timed {
  ms: number;
  /** user + system CPU seconds of the child, in ms, when /usr/bin/time is there to say */
  cpuMs?: number;
  stdout: string;
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/**
 * Runs a process and measures its wall time; when GNU time is installed, also its CPU time (user + system), which
 * moves far less than wall time on a shared, loaded machine and so is reported beside it.
 */
function timed(cmd: string, args: string[], cwd: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const [file, argv] = TIME ? [TIME, ['-f', 'lockstep-bench-cpu %U %S', cmd, ...args]] : [cmd, args];
    execFile(file, argv, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }, (err, stdout, stderr) => {
      const ms = performance.now() - t0;
      if (err) return reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      const m = /lockstep-bench-cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve(m ? { ms, cpuMs: (Number(m[1]) + Number(m[2])) * 1000, stdout } : { ms, stdout });
    });
  });
}

const PEER = `
import si from 'systeminformation';
const [graphics, nets] = await Promise.all([si.graphics(), si.networkInterfaces()]);
const list = Array.isArray(nets) ? nets : [nets];
process.stdout.write(JSON.stringify({
  gpus: graphics.controllers.map((c) => ({ model: c.model, vendor: c.vendor, bus: c.busAddress ?? c.pciBus })),
  nics: list.map((n) => ({ iface: n.iface, virtual: n.virtual, speed: n.speed, mac: n.mac, internal: n.internal })),
}));
`;

interface PeerFound {
  gpus: { model: string; vendor: string; bus?: string }[];
  nics: { iface: string; virtual: boolean; internal: boolean }[];
}

async function repeat(n: number, f: () => Promise<Timed>): Promise<{ times: number[]; cpu: number[]; last: string }> {
  const times: number[] = [];
  const cpu: number[] = [];
  let last = '';
  await f(); // warm the page cache, as a node agent finds it on any machine that has been up a minute
  for (let i = 0; i < n; i++) {
    const r = await f();
    times.push(r.ms);
    if (r.cpuMs !== undefined) cpu.push(r.cpuMs);
    last = r.stdout;
  }
  return { times, cpu, last };
}

const cpuText = (cpu: number[]) => (cpu.length ? `, ${Math.round(median(cpu))} ms CPU` : '');

const fmt = (ms: number) => `${Math.round(ms)} ms`;

export default async function discoverBench(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = ctx.quick ? 5 : 15;
  const bundle = join(ctx.root, 'dist', 'lockstep.mjs');
  const dir = await mkdtemp(join(tmpdir(), 'bench-discover-'));
  try {
    const node = await buildSimulatedNode('h100-hgx', dir, { nodeName: 'bench-h100' });
    const nodeArgs = ['--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath];

    const peer = await repeat(runs, () => timed(process.execPath, ['--input-type=module', '-e', PEER], ctx.root));
    const peerFound = JSON.parse(peer.last) as PeerFound;
    const peerMs = median(peer.times);
    ctx.log(`systeminformation graphics()+networkInterfaces(): median ${fmt(peerMs)}${cpuText(peer.cpu)} over ${runs}`);

    // the process floor: loading the bundle and doing nothing, to read the discover figures against
    const floor = await repeat(runs, () => timed(process.execPath, [bundle, '--version'], ctx.root));
    const floorMs = median(floor.times);
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    ctx.log(`lockstep --version (process floor): median ${fmt(floorMs)}; load average ${load}`);
    const rows: BenchRow[] = [
      {
        id: 'discover.floor',
        what: 'lockstep --version, whole process (start-up floor under the discover figures)',
        budget: '',
        measured: `${fmt(floorMs)} wall${cpuText(floor.cpu)} (median of ${runs}; load average ${load})`,
        data: { runsMs: floor.times.map(Math.round), cpuMs: floor.cpu.map(Math.round), loadavg: loadavg() },
      },
    ];
    for (const [id, what, args] of [
      [
        'discover.h100',
        'lockstep discover -o json, recorded 8x H100 + 14 NICs (simulated node), whole process',
        nodeArgs,
      ],
      ['discover.local', 'lockstep discover -o json, this machine, whole process', []],
    ] as const) {
      const r = await repeat(runs, () =>
        timed(process.execPath, [bundle, 'discover', '-o', 'json', ...args], ctx.root),
      );
      const inv = JSON.parse(r.last) as Inventory;
      const ms = median(r.times);
      const gpus = inv.devices.filter((d) => d.kind === 'gpu').length;
      const nics = inv.devices.filter((d) => d.kind === 'nic').length;
      const found = `lockstep: ${gpus} GPUs, ${nics} NICs (${inv.excludedInterfaces.length === 0 ? 'virtual ones left out' : ''}); systeminformation (this machine): ${peerFound.gpus.length} GPUs, ${peerFound.nics.length} interfaces (${peerFound.nics.filter((x) => !x.virtual && !x.internal).length} physical)`;
      ctx.log(`${id}: median ${fmt(ms)}${cpuText(r.cpu)} over ${runs}; ${found}`);
      rows.push({
        id,
        what,
        budget: '≤ 300 ms wall',
        measured: `${fmt(ms)} wall${cpuText(r.cpu)} (median of ${runs})`,
        peer: `systeminformation graphics()+networkInterfaces() on this machine: ${fmt(peerMs)} wall${cpuText(peer.cpu)} (median of ${runs})`,
        ratio: ms / peerMs,
        withinBudget: ms <= 300,
        data: {
          runsMs: r.times.map(Math.round),
          cpuMs: r.cpu.map(Math.round),
          peerRunsMs: peer.times.map(Math.round),
          peerCpuMs: peer.cpu.map(Math.round),
          lockstepFound: {
            gpus,
            nics,
            gpuBusIds: inv.devices.flatMap((d) => (d.kind === 'gpu' ? [d.pci.address] : [])),
          },
          peerFound,
          note: found,
          loadavg: loadavg(),
        },
      });
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
