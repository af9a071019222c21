/**
 * `npm run bench`: runs every test/bench/*.bench.ts (or those named on the command line), prints each row as it
 * comes, and writes one report (reports/bench.md + reports/bench.json) with each budget of DESIGN.md, the measured
 * figure and the peer's figure side by side.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Bench, BenchRow } from './report.js';

const root = join(import.meta.dirname, '..', '..');
const only = process.argv.slice(2);
const quick = process.env.BENCH_QUICK === '1';

const files = (await readdir(import.meta.dirname))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const rows: BenchRow[] = [];
const failures: string[] = [];
for (const file of files) {
  console.log(`\n== ${file}`);
  try {
    const mod = (await import(pathToFileURL(join(import.meta.dirname, file)).href)) as { default: Bench };
    const got = await mod.default({ root, quick, log: (line) => console.log(`   ${line}`) });
    for (const row of got) {
      const peer = row.peer ? `  | peer: ${row.peer}` : '';
      const ratio = row.ratio !== undefined ? `  | ratio ${row.ratio.toFixed(2)}` : '';
      console.log(`   ${row.id}: ${row.measured} (budget ${row.budget || '-'})${peer}${ratio}`);
    }
    rows.push(...got);
  } catch (err) {
    failures.push(`${file}: ${err instanceof Error ? err.stack : String(err)}`);
    console.error(`   FAILED: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|');
const md = [
  '# lockstep benchmark report',
  '',
  `${new Date().toISOString()} · node ${process.version} · ${quick ? 'quick' : 'full'} run`,
  '',
  '| id | what | budget | measured | peer (same run) | ratio | within budget |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.id} | ${cell(r.what)} | ${cell(r.budget)} | ${cell(r.measured)} | ${cell(r.peer)} | ${
        r.ratio !== undefined ? r.ratio.toFixed(2) : ''
      } | ${r.withinBudget === undefined ? '' : r.withinBudget ? 'yes' : 'NO'} |`,
  ),
  ...(failures.length
    ? ['', '## Benchmarks that failed to run', '', ...failures.map((f) => `- ${cell(f.split('\n')[0])}`)]
    : []),
  '',
].join('\n');
await mkdir(join(root, 'reports'), { recursive: true });
await writeFile(join(root, 'reports', 'bench.md'), md);
await writeFile(join(root, 'reports', 'bench.json'), `${JSON.stringify({ rows, failures }, null, 2)}\n`);
console.log(`\nreport: reports/bench.md, reports/bench.json (${rows.length} rows, ${failures.length} failed)`);
process.exitCode = failures.length ? 1 : 0;
