/**
 * inject's fast YAML path (src/inject/yaml-splice.ts) against the YAML library's full parse and re-print: on the whole
 * workload corpus — each file as it is, every document wrapped in a `kind: List` (kubectl's unindented style and the
 * indented one) and all files in one bundle — and on generated documents, the output and the report are byte for byte
 * the library path's. The reader also has to take the plain shapes the size budget is about, and leave to the library
 * everything outside its subset.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { JsonObject } from '../../src/inject/json.js';
import { injectObject } from '../../src/inject/manifest.js';
import type { InjectOptions } from '../../src/inject/options.js';
import { type InjectPath, injectText } from '../../src/inject/text.js';
import { printDocument, readDocument } from '../../src/inject/yaml-splice.js';

const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';
const ROOT = join(import.meta.dirname, '..', '..');
const CORPUS = ['test/inject/fixtures', 'test/fixtures/workloads'].flatMap((dir) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({ name: `${dir}/${f}`, text: readFileSync(join(ROOT, dir, f), 'utf8') })),
);

/** What inject gives, or the error it refuses with, as one comparable value. */
function outcome(text: string, options: InjectOptions, how: InjectPath): unknown {
  try {
    return injectText(text, options, how);
  } catch (err) {
    return { error: String(err) };
  }
}

function expectSameAsLibrary(text: string, options: InjectOptions): void {
  expect(outcome(text, options, {})).toEqual(outcome(text, options, { library: true }));
}

/** The documents of a stream that are objects (a `kind:` line), leading comments dropped. */
function objectsOf(text: string): string[] {
  return text
    .split(/^---$/m)
    .map((doc) => doc.replace(/^(?:#.*)?\n/gm, (line) => (line.startsWith('#') ? '' : line)).replace(/^\n+/, ''))
    .filter((doc) => /^kind:/m.test(doc));
}

/** Documents as the items of a List whose dashes sit at column `dash` (0: kubectl's style). */
function asList(docs: readonly string[], dash: number): string {
  const items = docs.map((doc) => {
    const body = doc.trimEnd().replace(/^/gm, ' '.repeat(dash + 2));
    return `${' '.repeat(dash)}- ${body.slice(dash + 2)}\n`;
  });
  return `apiVersion: v1\nkind: List\nitems:\n${items.join('')}`;
}

const OPTION_SETS: { name: string; options: InjectOptions }[] = [
  { name: 'defaults', options: { image: IMAGE } },
  { name: '--pass-through', options: { image: IMAGE, passThrough: true } },
  { name: '--engine none --command', options: { image: IMAGE, engine: 'none', commands: [{ words: ['sleep', '1'] }] } },
  { name: '--topology-key --tls-secret', options: { image: IMAGE, topologyKey: 'zone', tlsSecret: 'lockstep-tls' } },
];

describe('the fast YAML path prints what the library path prints', () => {
  for (const { name, options } of OPTION_SETS) {
    it(`on every corpus file, as it is (${name})`, () => {
      for (const file of CORPUS) expectSameAsLibrary(file.text, options);
    });

    it(`on every corpus file's objects as a kind: List, both indentations (${name})`, () => {
      for (const file of CORPUS) {
        const docs = objectsOf(file.text);
        expectSameAsLibrary(asList(docs, 0), options);
        expectSameAsLibrary(asList(docs, 2), options);
      }
    });

    it(`on the whole corpus as one bundle and one List (${name})`, () => {
      expectSameAsLibrary(CORPUS.map((file) => file.text).join('---\n'), options);
      const all = CORPUS.flatMap((file) => objectsOf(file.text));
      expectSameAsLibrary(asList(all, 0), options);
      expectSameAsLibrary(asList(all, 2), options);
    });
  }

  /** Scalars that test the reader's typing and the printer's quoting: numbers, booleans, null and their look-alikes. */
  const scalar = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9 ._/:=$()-]{0,12}$/) },
    {
      weight: 4,
      arbitrary: fc.constantFrom('true', 'True', 'no', 'null', '~', '007', '+1', '-1', '1.5', '0x1F', '.inf'),
    },
    { weight: 4, arbitrary: fc.constantFrom('-m', '--port=1', 'a: b', 'a #b', '#c', '- x', '"q"', "'q'", '[x]', '{}') },
    { weight: 3, arbitrary: fc.constantFrom('*a', '&a', '%x', '@x', '1e3', '12:30', 'a,b', ' a', 'a ', '') },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 2, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  );
  const labels = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9./-]{0,10}$/), scalar, { maxKeys: 3 });
  const env = fc.array(fc.record({ name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/), value: scalar }), {
    maxLength: 2,
  });

  it('on generated StatefulSets with odd scalars, printed in either list style and flow lists', () => {
    let fast = 0;
    let runs = 0;
    fc.assert(
      fc.property(labels, env, fc.array(scalar, { maxLength: 3 }), fc.boolean(), (extra, vars, args, indentSeq) => {
        const sts = {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'g', labels: extra },
          spec: {
            serviceName: 'g',
            replicas: 2,
            template: {
              metadata: { labels: extra },
              spec: {
                containers: [{ name: 'main', image: 'e:1', command: ['vllm', 'serve'], args, env: vars }],
              },
            },
          },
        };
        const block = stringify(sts, { indentSeq, lineWidth: 0, aliasDuplicateObjects: false });
        const list = asList([block, block.replace(/name: g$/m, 'name: h')], indentSeq ? 2 : 0);
        runs++;
        if (readDocument(list, indentSeq, false)) fast++;
        expectSameAsLibrary(block, { image: IMAGE });
        expectSameAsLibrary(block.replace(/^( *)command:\n(?: *- .*\n)+/m, '$1command: [vllm, serve]\n'), {
          image: IMAGE,
        });
        // a changed List item is printed anew (nothing of it copied): every scalar goes through the printer
        expectSameAsLibrary(list, { image: IMAGE });
      }),
      { numRuns: 60 },
    );
    // the property is about the fast path: most generated documents must take it
    expect(fast / runs).toBeGreaterThan(0.3);
  });

  it('re-prints a changed List item with the quoting the library gives', () => {
    const list = `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: StatefulSet
  metadata:
    name: g
    labels: {}
  spec:
    serviceName: g
    template:
      metadata:
        labels:
          a: "-1"
          b: "true"
          c: "007"
          d: '#c'
      spec:
        containers:
          - name: main
            image: e:1
            command: [vllm, serve, "1.5"]
`;
    expect(readDocument(list, false, false)).toBeDefined();
    expectSameAsLibrary(list, { image: IMAGE });
  });
});

describe('the fast reader', () => {
  const sts = CORPUS.find((file) => file.name.endsWith('inject/fixtures/statefulset-torchrun.yaml'))!.text;
  const [service, statefulSet] = objectsOf(sts);

  it('takes the plain block style: a Service, a StatefulSet, and Lists of them in either indentation', () => {
    for (const doc of [service!, statefulSet!, asList([statefulSet!, statefulSet!], 2)]) {
      expect(readDocument(doc, true, false)?.value).toMatchObject({ kind: expect.any(String) });
    }
    // kubectl's style: list items at their key's column, while the items' own lists are indented
    expect(readDocument(asList([statefulSet!], 0), false, false)?.value).toMatchObject({ kind: 'List' });
  });

  it('prints the corpus workloads it reads by splicing, without handing them to the library', () => {
    const names = [
      'inject/fixtures/statefulset-torchrun.yaml',
      'inject/fixtures/job-jax.yaml',
      'inject/fixtures/jobset-ray.yaml',
      'workloads/jobset-torchrun.yaml',
      'workloads/job-indexed-headless.yaml',
    ];
    for (const name of names) {
      const file = CORPUS.find((f) => f.name.endsWith(name))!;
      for (const doc of objectsOf(file.text).filter((d) => /^kind: (StatefulSet|Job|JobSet)$/m.test(d))) {
        const read = readDocument(doc, true, false);
        expect(read, name).toBeDefined();
        const report = { changes: [], warnings: [], notes: [] };
        const after = injectObject(read!.value, { image: IMAGE, engine: 'torch' }, report);
        expect(printDocument(read!, after as JsonObject), name).toBeDefined();
      }
    }
  });

  const plain = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n';
  const outside: [string, string][] = [
    ['an anchor and an alias', `${plain}  a: &x b\n  c: *x\n`],
    ['a tag', `${plain}  a: !!str b\n`],
    ['a folded block scalar', `${plain}  a: >\n    b\n`],
    ['a block scalar that keeps its blank lines', `${plain}  a: |+\n    b\n\n  c: d\n`],
    ['a block scalar followed by a blank line', `${plain}  a: |\n    b\n\n  c: d\n`],
    ['a comment after a key with a nested map', `${plain}  a: # c\n    b: c\n`],
    ['a comment after two spaces', `${plain}  a: "b"  # c\n`],
    ['a plain scalar over two lines', `${plain}  a: b\n    c\n`],
    ['a quoted scalar over two lines with a blank line', `${plain}  a: "b\n\n    c"\n`],
    ['a single-quoted scalar over two lines', `${plain}  a: 'b\n    c'\n`],
    ['an escape in double quotes', `${plain}  a: "b\\tc"\n`],
    ['a float', `${plain}  a: 1.5\n`],
    ['an integer written with a sign', `${plain}  a: +1\n`],
    ['two blank lines', `${plain}  a: b\n\n\n  c: d\n`],
    ['a duplicate key', `${plain}  a: b\n  a: c\n`],
    ['a merge key', `${plain}  <<: {a: b}\n`],
    ['a quoted key', `${plain}  "a": b\n`],
    ['a flow map with content', `${plain}  a: {b: c}\n`],
    ['a tab', `${plain}\ta: b\n`],
    ['a trailing space', `${plain}  a: b \n`],
    ['a CRLF line end', `${plain}  a: b\r\n`],
    ['a comment at another indent', `${plain}  a: b\n# c\n  d: e\n`],
    ['a comment after the last entry', `${plain}  a: b\n# c\n`],
    ['a document start with content', `--- !!map\n${plain}`],
    ['a nested list in a list', `${plain}  a:\n  - - b\n`],
  ];
  for (const [what, text] of outside) {
    it(`leaves ${what} to the library`, () => {
      expect(readDocument(text, true, false)).toBeUndefined();
      expectSameAsLibrary(text, { image: IMAGE });
    });
  }

  it('takes literal block scalars, moved to the indentation the library prints them at', () => {
    const script = `${plain}  a: |\n      set -e\n\n        exec b\n  c: |-\n     d\n`;
    expect(readDocument(script, true, false)?.value).toMatchObject({ data: { a: 'set -e\n\n  exec b\n', c: 'd' } });
    const job = statefulSet!.replace(
      /- --nproc-per-node=8\n/,
      '- |\n                torchrun \\\n                  --nproc-per-node=8\n',
    );
    expect(readDocument(job, true, false)).toBeDefined();
    expectSameAsLibrary(job, { image: IMAGE });
    expectSameAsLibrary(asList([job, job.replace(/name: ddp$/m, 'name: other')], 0), { image: IMAGE });
  });

  it('takes trailing comments and double-quoted scalars over several lines (printed on one)', () => {
    const text = `${plain}  a: b # c\n  d: "e" # f\n  g: "h i\n    j"\n`;
    expect(readDocument(text, true, false)?.value).toMatchObject({ data: { a: 'b', d: 'e', g: 'h i j' } });
    const lws = CORPUS.find((file) => file.name.endsWith('inject/fixtures/lws-vllm-ray.yaml'))!.text;
    expect(readDocument(objectsOf(lws)[0]!, true, false)).toBeDefined();
  });

  it('reads past 100 levels of block nesting only through the library, which refuses past 200', () => {
    const deep = (levels: number) =>
      `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: g\nspec:\n${Array.from({ length: levels }, (_, i) => `${'  '.repeat(i + 1)}k:`).join('\n')} v\n`;
    expect(readDocument(deep(150), true, false)).toBeUndefined();
    expect(() => injectText(deep(250), { image: IMAGE })).toThrow(/nests too deeply/);
  });
});
