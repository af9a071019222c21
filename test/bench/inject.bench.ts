/**
 * `lockstep inject` on large inputs, in process (no start-up): a 1 MB and a 10 MB bundle of the shape charts and
 * generators emit (a LeaderWorkerSet, a StatefulSet with its Service, then ConfigMaps), and a `kubectl get -o yaml`
 * List of StatefulSets, every item injected. The peer is the YAML library alone parsing and re-printing the same
 * text (what a YAML-only rewrite such as yq costs), in the same run. Times are CPU time of this process, which a
 * loaded machine moves far less than wall time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { injectText } from '../../src/inject/text.js';
import { type BenchContext, type BenchRow, median } from './report.js';

const MB = 1024 * 1024;

function fixture(root: string, name: string): string {
  return readFileSync(join(root, 'test', 'inject', 'fixtures', name), 'utf8');
}

/** The workloads first, then ConfigMaps of 20 keys until the size is reached. */
function bundle(root: string, bytes: number): string {
  const docs = [fixture(root, 'lws-vllm-ray.yaml'), fixture(root, 'statefulset-torchrun.yaml')];
  let size = docs.join('---\n').length;
  for (let i = 0; size < bytes; i++) {
    const data = Array.from({ length: 20 }, (_, j) => `  key${j}: value ${i} ${j} ${'x'.repeat(20)}`).join('\n');
    const doc = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-${i}\n  labels:\n    app: web\ndata:\n${data}\n`;
    docs.push(doc);
    size += doc.length + 4;
  }
  return docs.join('---\n');
}

/** A List of StatefulSets (the shape `kubectl get sts -o yaml` prints), every one a workload inject rewrites. */
function workloadList(root: string, bytes: number): string {
  const sts = fixture(root, 'statefulset-torchrun.yaml').split(/^---$/m)[1]!.trim();
  const items: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const item = `${sts
      .replace(/\bddp\b/g, `ddp-${i}`)
      .replace(/^#.*\n/m, '')
      .replace(/^/gm, '  ')
      .replace(/^ {2}/, '- ')}\n`;
    items.push(item);
    size += item.length;
  }
  return `apiVersion: v1\nkind: List\nitems:\n${items.join('')}`;
}

function cpuMs(f: () => void): number {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function measure(text: string, runs: number): { inject: number; peer: number } {
  const inject: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < runs; i++) {
    inject.push(cpuMs(() => injectText(text, { image: 'ghcr.io/lockstep-dev/lockstep:bench' })));
    peer.push(
      cpuMs(() =>
        parseAllDocuments(text)
          .map((d) => d.toString())
          .join(''),
      ),
    );
  }
  return { inject: median(inject), peer: median(peer) };
}

export default async function injectBench(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = ctx.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  const one = measure(bundle(ctx.root, MB), runs);
  const ten = measure(bundle(ctx.root, 10 * MB), 1);
  const growth = ten.inject / one.inject;
  rows.push(
    {
      id: 'inject.bundle-1mb',
      what: 'inject a 1 MB bundle (LWS + StatefulSet + Service + ConfigMaps), CPU time',
      budget: '≤ 500 ms',
      measured: `${one.inject.toFixed(0)} ms`,
      peer: `yaml parse + print: ${one.peer.toFixed(0)} ms`,
      ratio: one.inject / one.peer,
      withinBudget: one.inject <= 500,
    },
    {
      id: 'inject.bundle-10mb',
      what: 'inject a 10 MB bundle of the same shape, CPU time; growth over the 1 MB row',
      budget: 'linear: ≤ 10× the 1 MB row (+ noise)',
      measured: `${ten.inject.toFixed(0)} ms (${growth.toFixed(1)}× the 1 MB row)`,
      peer: `yaml parse + print: ${ten.peer.toFixed(0)} ms`,
      ratio: ten.inject / ten.peer,
      withinBudget: growth <= 12,
    },
  );
  const listOne = measure(workloadList(ctx.root, MB), 1);
  const listFour = measure(workloadList(ctx.root, 4 * MB), 1);
  const listGrowth = listFour.inject / listOne.inject;
  rows.push({
    id: 'inject.list-growth',
    what: 'inject a List of StatefulSets (every item rewritten), 1 MB then 4 MB, CPU time',
    budget: 'linear: ≤ 4× from 1 to 4 MB (+ noise)',
    measured: `${listOne.inject.toFixed(0)} ms → ${listFour.inject.toFixed(0)} ms (${listGrowth.toFixed(1)}×)`,
    peer: `yaml parse + print: ${listOne.peer.toFixed(0)} ms → ${listFour.peer.toFixed(0)} ms`,
    ratio: listFour.inject / listFour.peer,
    withinBudget: listGrowth <= 5,
  });
  for (const row of rows) ctx.log(`${row.id}: ${row.measured}`);
  return rows;
}
