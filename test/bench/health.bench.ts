/**
 * Device health, end to end on the simulated 8x H100 node: the real agent process (dist/lockstep.mjs agent) against
 * the API server double. For each of N events an XID 79 line is appended to the node's kernel-log file and the bench
 * times when each report becomes visible: the slice taint and the pod condition and Event in the API (seen by the
 * API server's own store), the kubelet health stream (a gRPC NodeWatchResources client on the plugin socket, when the
 * agent serves one) and /metrics (polled every METRICS_POLL_MS). Then the fault is cleared (clear-xid file) and the
 * bench waits for recovery before the next event. Afterwards it samples the agent's resident memory and idle CPU
 * over IDLE_SECONDS (BENCH_FULL=1: 10 minutes) while nothing changes.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { VERSION_HEALTH_V1 } from '../../agent/kubeletplugin/protos.js';
import { CONDITION_DEVICES_HEALTHY, TAINT_KEYS } from '../../src/contract/names.js';
import type { Pod, ResourceSlice } from '../../src/kube/types.js';
import { daemonSetAgentEnv, fetchText, startAgentWorld } from '../agent/health/agent-world.js';
import { DraClient, KUBELET_DRA_VERSIONS } from '../cluster/kubelet/plugin-client.js';
import { type Bench, type BenchRow, median, percentile } from './report.js';

const NODE = 'h100-bench';
const DEVICE = 'gpu-0000-9b-00-0';
const METRICS_POLL_MS = 10;

type Report = 'slice-taint' | 'pod-condition' | 'pod-event' | 'kubelet-stream' | 'pod-resource-status' | 'metrics';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** utime+stime of a process in clock ticks, and its resident set in bytes (Linux /proc): all, anonymous, file. */
async function procSample(
  pid: number,
): Promise<{ cpuTicks: number; rssBytes: number; anonBytes: number; fileBytes: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { cpuTicks, rssBytes: kb('VmRSS'), anonBytes: kb('RssAnon'), fileBytes: kb('RssFile') };
}

const bench: Bench = async (ctx) => {
  const events = process.env.BENCH_FULL === '1' ? 200 : ctx.quick ? 40 : 200;
  const idleSeconds = process.env.BENCH_FULL === '1' ? 600 : ctx.quick ? 15 : 45;
  const env = await daemonSetAgentEnv();
  const world = await startAgentWorld({ nodeName: NODE, device: DEVICE, env });
  const { api, node, pid, stateDir, metricsUrl } = world;
  let stream: ReturnType<DraClient['watchHealth']> | undefined;
  let draClient: DraClient | undefined;
  try {
    // what the API shows, from the server's own store (the moment a write is committed)
    const seen: Partial<Record<Report, number>> = {};
    const mark = (r: Report) => {
      if (seen[r] === undefined) seen[r] = performance.now();
    };
    let tainted = false;
    let conditionFalse = false;
    let streamUnhealthy = false;
    let statusUnhealthy = false;
    api.store.subscribe('resourceslices', (_type, obj) => {
      const slice = obj as unknown as ResourceSlice;
      if (slice.spec.nodeName !== NODE) return;
      const device = slice.spec.devices?.find((d) => d.name === DEVICE);
      if (!device) return;
      tainted = (device.taints ?? []).some((t) => t.key === TAINT_KEYS.unhealthy);
      if (tainted) mark('slice-taint');
    });
    api.store.subscribe('pods', (_type, obj) => {
      const c = (obj as unknown as Pod).status?.conditions?.find((x) => x.type === CONDITION_DEVICES_HEALTHY);
      conditionFalse = c?.status === 'False';
      if (conditionFalse) mark('pod-condition');
      // what the kubelet writes from the health stream (FACTS.md §3): allocatedResourcesStatus
      const statuses = ((obj as unknown as Pod).status?.containerStatuses ?? []) as {
        allocatedResourcesStatus?: { resources?: { health?: string }[] }[];
      }[];
      statusUnhealthy = statuses.some((cs) =>
        (cs.allocatedResourcesStatus ?? []).some((r) => (r.resources ?? []).some((x) => x.health === 'Unhealthy')),
      );
      if (statusUnhealthy) mark('pod-resource-status');
    });
    api.store.subscribe('events', (type, obj) => {
      const e = obj as unknown as { reason?: string; involvedObject?: { kind?: string } };
      if (type === 'ADDED' && e.reason === 'DeviceUnhealthy' && e.involvedObject?.kind === 'Pod') mark('pod-event');
    });

    const unhealthyLine = `lockstep_device_health{device="${DEVICE}",type="gpu",state="unhealthy",node="${NODE}"} 1`;
    const draSocket = world.draSocket;
    if (existsSync(draSocket)) {
      draClient = new DraClient(draSocket, KUBELET_DRA_VERSIONS[0]);
      stream = draClient.watchHealth(VERSION_HEALTH_V1);
      stream.on('data', (msg: { devices?: { device?: { deviceName?: string }; health?: string | number }[] }) => {
        const d = msg.devices?.find((x) => x.device?.deviceName === DEVICE);
        streamUnhealthy = d?.health === 'UNHEALTHY' || d?.health === 2;
        if (streamUnhealthy) mark('kubelet-stream');
      });
      stream.on('error', () => undefined);
    }
    const hasStream = stream !== undefined;
    const reports: Report[] = [
      'slice-taint',
      'pod-condition',
      'pod-event',
      'metrics',
      ...(hasStream ? (['kubelet-stream', 'pod-resource-status'] as const) : []),
    ];
    const latencies: Record<Report, number[]> = {
      'slice-taint': [],
      'pod-condition': [],
      'pod-event': [],
      'kubelet-stream': [],
      'pod-resource-status': [],
      metrics: [],
    };

    ctx.log(
      `agent pid ${pid}; ${events} XID events; kubelet stream ${hasStream ? 'on' : 'not served by this agent build'}; ` +
        `DaemonSet env ${Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
    );
    // Two rounds of `events`: in one the bench only listens (pushed reports), in the other it also polls /metrics
    // every METRICS_POLL_MS, which costs the agent CPU and would slow the pushed reports it is racing with.
    const pushed = reports.filter((r) => r !== 'metrics');
    for (let i = 0; i < 2 * events; i++) {
      const pollMetrics = i % 2 === 1;
      for (const r of reports) delete seen[r];
      const t0 = performance.now();
      await node.appendKernelLog(
        `NVRM: Xid (PCI:0000:9b:00): 79, pid=0, name=bench, GPU has fallen off the bus. (${i})`,
      );
      const wanted = pollMetrics ? [...pushed, 'metrics' as const] : pushed;
      const end = Date.now() + 10_000;
      while (wanted.some((r) => seen[r] === undefined)) {
        if (Date.now() > end)
          throw new Error(`event ${i}: no ${wanted.filter((r) => seen[r] === undefined).join(', ')}`);
        if (pollMetrics && seen.metrics === undefined && (await fetchText(metricsUrl)).text.includes(unhealthyLine)) {
          mark('metrics');
        } else await sleep(pollMetrics ? METRICS_POLL_MS : 1);
      }
      if (pollMetrics) latencies.metrics.push((seen.metrics ?? t0) - t0);
      else for (const r of pushed) latencies[r].push((seen[r] ?? t0) - t0);
      // recover before the next event, so every event is a real transition
      await writeFile(join(stateDir, 'clear-xid'), 'all\n');
      await until(
        () => !tainted && !conditionFalse && (!hasStream || (!streamUnhealthy && !statusUnhealthy)),
        `recovery after event ${i}`,
        10_000,
      );
    }

    // steady state: nothing changes; sample CPU and memory of the agent process
    await sleep(2000);
    const start = await procSample(pid);
    const t = performance.now();
    const rss: number[] = [start.rssBytes];
    // anonymous = the agent's own (heap, V8, malloc); file = mapped files, mostly the node binary's pages (shared)
    const anon: number[] = [start.anonBytes];
    const file: number[] = [start.fileBytes];
    const samples = Math.max(3, Math.round(idleSeconds / 5));
    for (let s = 0; s < samples; s++) {
      await sleep((idleSeconds * 1000) / samples);
      const sample = await procSample(pid);
      rss.push(sample.rssBytes);
      anon.push(sample.anonBytes);
      file.push(sample.fileBytes);
    }
    const stop = await procSample(pid);
    // where the memory is, from the agent's own process metrics
    const scrape = (await fetchText(metricsUrl)).text;
    const gauge = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(scrape)?.[1] ?? Number.NaN) / 1e6;
    const heapUsed = gauge('nodejs_heap_size_used_bytes');
    const heapTotal = gauge('nodejs_heap_size_total_bytes');
    const external = gauge('nodejs_external_memory_bytes');
    const ticksPerSecond = 100; // USER_HZ on Linux
    const idleCpuPct = (((stop.cpuTicks - start.cpuTicks) / ticksPerSecond) * 1000 * 100) / (performance.now() - t);
    const rssMb = median(rss) / 1e6;

    const rows: BenchRow[] = reports.map((r) => {
      const p50 = median(latencies[r]);
      const p99 = percentile(latencies[r], 99);
      const budgeted = r === 'slice-taint' || r === 'kubelet-stream';
      return {
        id: `health.xid-to-${r}`,
        what: `XID line appended → ${r} visible (${events} events${r === 'metrics' ? `, /metrics polled every ${METRICS_POLL_MS} ms` : ''})`,
        budget: budgeted ? '≤ 250 ms p99' : '',
        measured: `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies[r]).toFixed(1)} ms`,
        peer: budgeted ? 'NVIDIA device plugin: 5 s poll; kubelet health timeout 30 s' : undefined,
        ...(budgeted ? { withinBudget: p99 <= 250 } : {}),
        data: { p50, p99, samples: latencies[r] },
      };
    });
    if (!hasStream) {
      rows.push({
        id: 'health.xid-to-kubelet-stream',
        what: 'XID line appended → kubelet health stream',
        budget: '≤ 250 ms p99',
        measured: 'not measured: this agent build serves no DRA plugin socket',
      });
    }
    rows.push(
      {
        id: 'health.agent-rss',
        what: `agent resident memory, steady (median of ${rss.length} samples over ${idleSeconds} s after the events)`,
        budget: '≤ 80 MB',
        measured: `${rssMb.toFixed(1)} MB (max ${(Math.max(...rss) / 1e6).toFixed(1)} MB; anonymous ${(median(anon) / 1e6).toFixed(1)} MB, file-backed ${(median(file) / 1e6).toFixed(1)} MB; V8 heap ${heapUsed.toFixed(1)} used / ${heapTotal.toFixed(1)} MB, external ${external.toFixed(1)} MB)`,
        withinBudget: rssMb <= 80,
        data: {
          rssBytes: rss,
          anonBytes: anon,
          fileBytes: file,
          env,
          heapUsedMb: heapUsed,
          heapTotalMb: heapTotal,
          externalMb: external,
        },
      },
      {
        id: 'health.agent-idle-cpu',
        what: `agent CPU while nothing changes, over ${idleSeconds} s (BENCH_FULL=1: 600 s)`,
        budget: '',
        measured: `${idleCpuPct.toFixed(2)} % of one core`,
        data: { idleSeconds, ticks: stop.cpuTicks - start.cpuTicks },
      },
    );
    return rows;
  } finally {
    stream?.cancel();
    draClient?.close();
    await world.stop();
  }
};

export default bench;
