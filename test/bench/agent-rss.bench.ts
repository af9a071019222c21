/**
 * The agent's steady resident memory on Node 24 (DESIGN.md budget ≤ 80 MB), as it runs in a DaemonSet pod: the
 * bundle with the DaemonSet's NODE_OPTIONS/MALLOC_ARENA_MAX, the service account mounted at its real path (its own
 * mount namespace, see startAgentWorld's inCluster) and no kubeconfig, so @kubernetes/client-node is never loaded.
 * Beside it, in alternating rounds of the same run, the same agent given a --kubeconfig (client-node loaded, as in
 * development and in the health bench). Each agent publishes its slices, serves the kubelet a prepared claim, then
 * idles; RSS, anonymous and file-backed pages are sampled from /proc while it idles. File-backed pages are mostly
 * the node binary's (its code, and the built-in modules' JavaScript it keeps in .rodata), shared by every Node process
 * on the host and reclaimable; anonymous memory is the agent's own. The load average is printed: this machine is
 * shared.
 *
 * What the agent's resident memory was made of (Node 24.22, /proc/<pid>/smaps and pagemap against the binary's
 * symbols, before the DaemonSet's --jitless): of 88 MB, 57 MB file-backed — 31 MB of the binary's code (V8's
 * optimising compilers alone 6.7 MB of it), 17 MB of its read-only data (the built-in modules' sources, ICU) — and
 * 31 MB anonymous: the V8 heap (19 MB; bundle and built-in code, sources, the agent's state) and malloc. --jitless
 * took 13 MB (no compiler pages, no optimised code or compiler zones); loading node:http without its undici getters
 * (src/net/node-http.ts) 1.7 MB.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { canRunInCluster, daemonSetAgentEnv, startAgentWorld } from '../agent/health/agent-world.js';
import { type Bench, type BenchRow, median } from './report.js';

interface Sample {
  rss: number;
  anon: number;
  file: number;
}

async function sample(pid: number): Promise<Sample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const mb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  return { rss: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile') };
}

/** One agent: ready, settled, then `samples` samples over `seconds`; the medians. */
async function steady(inCluster: boolean, seconds: number, env: Record<string, string>) {
  const world = await startAgentWorld({ nodeName: 'rss-node', device: 'gpu-0000-9b-00-0', env, inCluster });
  try {
    await new Promise((r) => setTimeout(r, 5000));
    const got: Sample[] = [];
    for (let i = 0; i < 6; i++) {
      got.push(await sample(world.pid));
      await new Promise((r) => setTimeout(r, (seconds * 1000) / 6));
    }
    return {
      rss: median(got.map((s) => s.rss)),
      anon: median(got.map((s) => s.anon)),
      file: median(got.map((s) => s.file)),
      load: loadavg()[0]!,
    };
  } finally {
    await world.stop();
  }
}

const mb = (v: number) => `${v.toFixed(1)} MB`;

const bench: Bench = async ({ quick, log }) => {
  if (!canRunInCluster()) {
    log('no mount namespace for the agent (unshare -m needs root): no in-cluster RSS row');
    return [];
  }
  const env = await daemonSetAgentEnv();
  const rounds = quick ? 1 : 3;
  const seconds = quick ? 10 : 30;
  const pod: Awaited<ReturnType<typeof steady>>[] = [];
  const kubeconfig: Awaited<ReturnType<typeof steady>>[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const inCluster of r % 2 === 0 ? [true, false] : [false, true]) {
      const got = await steady(inCluster, seconds, env);
      (inCluster ? pod : kubeconfig).push(got);
      log(
        `round ${r + 1} ${inCluster ? 'in-cluster' : '--kubeconfig'}: RSS ${mb(got.rss)} (anonymous ${mb(got.anon)}, file-backed ${mb(got.file)}; load ${got.load.toFixed(1)})`,
      );
    }
  }
  const m = (list: typeof pod, key: 'rss' | 'anon' | 'file') => median(list.map((x) => x[key]));
  const loads = [...pod, ...kubeconfig].map((x) => x.load);
  return [
    {
      id: 'agent.rss.in-cluster',
      what: `agent resident memory on Node ${process.versions.node}, steady, as in a DaemonSet pod (service account, no client-node; DaemonSet NODE_OPTIONS/MALLOC_ARENA_MAX): median of ${rounds} agents × 6 samples over ${seconds} s`,
      budget: '≤ 80 MB',
      measured: `${mb(m(pod, 'rss'))} (anonymous ${mb(m(pod, 'anon'))}, file-backed ${mb(m(pod, 'file'))}; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)})`,
      peer: `the same agent with --kubeconfig (client-node loaded): ${mb(m(kubeconfig, 'rss'))} (anonymous ${mb(m(kubeconfig, 'anon'))}, file-backed ${mb(m(kubeconfig, 'file'))})`,
      ratio: m(pod, 'rss') / m(kubeconfig, 'rss'),
      withinBudget: m(pod, 'rss') <= 80,
      data: { pod, kubeconfig },
    } satisfies BenchRow,
  ];
};

export default bench;
