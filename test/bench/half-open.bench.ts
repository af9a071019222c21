/**
 * The coordinator under 10,000 half-open connections (TCP connects that never speak HTTP/2): its resident memory
 * stays below 128 MB (half the coordinator sidecar's 256 Mi limit) while the connections are held, and a member's
 * Status call still answers. Peer: the same coordinator idle, measured in the same run.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { queryStatus } from '../../leader/member/client.js';
import { start } from './processes.js';
import type { Bench } from './report.js';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const bench: Bench = async ({ root, quick, log }) => {
  const connections = quick ? 2000 : 10_000;
  const holdMs = quick ? 5_000 : 15_000;
  const proc = start(process.execPath, [
    join(root, 'dist', 'lockstep.mjs'),
    'coordinator',
    '--group',
    'flood',
    '--group-size',
    '2',
    '--listen',
    '127.0.0.1:0',
  ]);
  const pid = proc.child.pid ?? 0;
  const sockets: Socket[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the coordinator did not start:\n${proc.out()}`)), 20_000);
      proc.onLine((line) => {
        const m = /"port":(\d+)/.exec(line);
        if (m && line.includes('coordinator listening')) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    await new Promise((r) => setTimeout(r, 500));
    const idle = rssMb(pid);
    let closedByServer = 0;
    for (let i = 0; i < connections; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closedByServer++);
      s.resume();
      sockets.push(s);
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    let peak = idle;
    const started = Date.now();
    while (Date.now() - started < holdMs) {
      peak = Math.max(peak, rssMb(pid));
      await new Promise((r) => setTimeout(r, 200));
    }
    const answered = await queryStatus(`127.0.0.1:${port}`)
      .then((s) => s.group === 'flood')
      .catch(() => false);
    log(
      `idle ${idle.toFixed(1)} MB, peak ${peak.toFixed(1)} MB, ${closedByServer} closed by the server, status ${answered}`,
    );
    return [
      {
        id: 'coordinator-half-open-rss',
        what: `coordinator resident memory while ${connections} half-open connections are held ${holdMs / 1000} s`,
        budget: '< 128 MB, Status still answers',
        measured: `${peak.toFixed(1)} MB peak; ${closedByServer} closed by the coordinator; Status ${answered ? 'answered' : 'FAILED'}`,
        peer: `${idle.toFixed(1)} MB idle`,
        withinBudget: peak < 128 && answered,
        data: { connections, holdMs, idleMb: idle, peakMb: peak, closedByServer, answered },
      },
    ];
  } finally {
    for (const s of sockets) s.destroy();
    proc.child.kill('SIGKILL');
  }
};

export default bench;
