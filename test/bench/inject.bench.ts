/**
 * `lockstep inject` on large inputs, in process (no start-up), in the shapes that cost it most: a `kubectl get -o yaml`
 * List of StatefulSets and a multi-document bundle of real workloads (StatefulSet + Service, LeaderWorkerSet + Service,
 * indexed Job, JobSet), every workload injected, each at 1 MB and 4 MB so the growth shows; and the bundle charts and
 * generators emit (a LeaderWorkerSet, a StatefulSet with its Service, then ConfigMaps), at 1 MB and 10 MB, where most
 * documents are ConfigMaps inject passes through unparsed. The peer is the YAML library alone parsing and re-printing
 * the same text (what a YAML-only rewrite such as yq costs), in the same run. Times are CPU time of this process,
 * which a loaded machine moves far less than wall time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { injectText } from '../../src/inject/text.js';
import { type BenchContext, type BenchRow, median } from './report.js';

const MB = 1024 * 1024;
const BUDGET_MS_PER_MB = 500;

function fixture(root: string, name: string): string {
  return readFileSync(join(root, 'test', 'inject', 'fixtures', name), 'utf8');
}

/** The workloads first, then ConfigMaps of 20 keys until the size is reached. */
function configMapBundle(root: string, bytes: number): string {
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

/** Workload fixtures of every kind inject rewrites, with their Services, and the names a copy renames. */
const WORKLOAD_FIXTURES = ['statefulset-torchrun.yaml', 'lws-vllm-ray.yaml', 'job-jax.yaml', 'jobset-ray.yaml'];
const NAMED = /(:[ \t]+)(ddp|vllm|vllm-leader|jax-pretrain|multislice)$/gm;

/** A multi-document bundle of real workloads (every one injected), copies renamed so each is a group of its own. */
function workloadBundle(root: string, bytes: number): string {
  const sources = WORKLOAD_FIXTURES.map((name) => fixture(root, name).trimEnd());
  const docs: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const doc = `${sources[i % sources.length]!.replace(NAMED, `$1$2-${i}`)}\n`;
    docs.push(doc);
    size += doc.length + 4;
  }
  return docs.join('---\n');
}

function cpuMs(f: () => void): number {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

interface Measured {
  inject: number;
  peer: number;
  mb: number;
}

function measure(text: string, runs: number): Measured {
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
  return { inject: median(inject), peer: median(peer), mb: text.length / MB };
}

const perMb = (m: Measured): number => m.inject / m.mb;

/** A 1 MB and a 4 MB row of one shape: the budget per MB on each, and the growth from one to the other. */
function sizeRows(id: string, what: string, one: Measured, four: Measured): BenchRow[] {
  const growth = four.inject / one.inject;
  return [one, four].map((m, i) => ({
    id: `inject.${id}-${i === 0 ? 1 : 4}mb`,
    what: `inject ${what}, ${m.mb.toFixed(1)} MB, CPU time${i === 0 ? '' : '; growth over the 1 MB row'}`,
    budget: `≤ ${BUDGET_MS_PER_MB} ms per MB${i === 0 ? '' : ', linear (≤ 4× the 1 MB row + noise)'}`,
    measured: `${m.inject.toFixed(0)} ms (${perMb(m).toFixed(0)} ms/MB)${i === 0 ? '' : `, ${growth.toFixed(1)}× the 1 MB row`}`,
    peer: `yaml parse + print: ${m.peer.toFixed(0)} ms`,
    ratio: m.inject / m.peer,
    withinBudget: perMb(m) <= BUDGET_MS_PER_MB && (i === 0 || growth <= 5),
    data: { injectMs: m.inject, peerMs: m.peer, megabytes: m.mb },
  }));
}

export default async function injectBench(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = ctx.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  // compile the code paths first, so the first row does not pay the JIT's warm-up alone
  injectText(workloadList(ctx.root, MB / 16), { image: 'ghcr.io/lockstep-dev/lockstep:bench' });
  injectText(workloadBundle(ctx.root, MB / 16), { image: 'ghcr.io/lockstep-dev/lockstep:bench' });
  const one = measure(configMapBundle(ctx.root, MB), runs);
  const ten = measure(configMapBundle(ctx.root, 10 * MB), 1);
  const growth = ten.inject / one.inject;
  rows.push(
    {
      id: 'inject.configmaps-1mb',
      what: 'inject a 1 MB bundle (LWS + StatefulSet + Service, then ConfigMaps inject passes through unparsed), CPU time',
      budget: '≤ 500 ms',
      measured: `${one.inject.toFixed(0)} ms`,
      peer: `yaml parse + print: ${one.peer.toFixed(0)} ms`,
      ratio: one.inject / one.peer,
      withinBudget: one.inject <= 500,
    },
    {
      id: 'inject.configmaps-10mb',
      what: 'inject a 10 MB bundle of the same shape, CPU time; growth over the 1 MB row',
      budget: 'linear: ≤ 10× the 1 MB row (+ noise)',
      measured: `${ten.inject.toFixed(0)} ms (${growth.toFixed(1)}× the 1 MB row)`,
      peer: `yaml parse + print: ${ten.peer.toFixed(0)} ms`,
      ratio: ten.inject / ten.peer,
      withinBudget: growth <= 12,
    },
  );
  rows.push(
    ...sizeRows(
      'list',
      'a `kind: List` of StatefulSets (every item rewritten)',
      measure(workloadList(ctx.root, MB), 1),
      measure(workloadList(ctx.root, 4 * MB), 1),
    ),
    ...sizeRows(
      'workloads',
      'a bundle of workloads (StatefulSet + Service, LWS + Service, Job, JobSet; every workload rewritten)',
      measure(workloadBundle(ctx.root, MB), 1),
      measure(workloadBundle(ctx.root, 4 * MB), 1),
    ),
  );
  for (const row of rows) ctx.log(`${row.id}: ${row.measured}`);
  return rows;
}
