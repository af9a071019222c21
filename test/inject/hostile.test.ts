/**
 * Input inject did not write and must not be hurt by: alias bombs, deep nesting, huge lists, binary data, oversized
 * or special files. Each threat in src/inject/text.ts and src/commands/inject/run.ts has a row here.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { InjectError } from '../../src/inject/options.js';
import { injectText, MAX_NESTING } from '../../src/inject/text.js';
import { runBundle } from '../support/cli.js';

const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

/** `text` as an item of a block list at the top level */
const asItem = (text: string) => `${text.trimEnd().replace(/^/gm, '  ').replace(/^ {2}/, '- ')}\n`;

const STATEFULSET = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 2
  serviceName: web
  template:
    spec:
      containers:
        - name: main
          image: vllm/vllm-openai:v0.11.0
          command: [vllm, serve, m]
`;

/** The classic "billion laughs" shape: nine aliases of nine aliases…, under 1 KB of text. */
function aliasBomb(levels: number): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n${lines.join('\n')}\n`;
}

function refusal(text: string): string {
  try {
    injectText(text, { image: IMAGE });
  } catch (err) {
    expect(err).toBeInstanceOf(InjectError);
    return (err as Error).message;
  }
  throw new Error('injectText accepted the input');
}

describe('inject refuses hostile YAML and JSON with a message that names the problem', () => {
  it.each([
    ['alias bomb (9 levels, < 1 KB)', aliasBomb(9), /^document 1 expands its YAML aliases too far .*alias bomb/],
    [
      'deep flow nesting',
      `kind: StatefulSet\nspec: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
      /^the input nests too deeply \(more than 200 levels/,
    ],
    [
      'deep flow nesting with items',
      `kind: StatefulSet\nspec: ${'[a, '.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}\n`,
      /nests too deeply/,
    ],
    [
      'deep block nesting',
      `apiVersion: apps/v1\nkind: StatefulSet\nspec:\n${Array.from({ length: MAX_NESTING + 5 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`,
      /^document 1 nests too deeply/,
    ],
    [
      'deep JSON',
      `{"kind":"StatefulSet","spec":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      /^the JSON input nests too deeply/,
    ],
  ])('%s', (_name, text, message) => {
    expect(refusal(text)).toMatch(message);
  });

  it('keeps a few real anchors and merge keys working (the alias limit is not zero)', () => {
    const text = `x-env: &env\n  - {name: A, value: "1"}\n---\n${STATEFULSET.replace('command: [vllm, serve, m]', 'command: [vllm, serve, m]\n          env: []')}`;
    expect(() => injectText(text, { image: IMAGE })).not.toThrow();
    const anchored = `apiVersion: v1\nkind: Service\nmetadata: &m {name: web}\nspec: {publishNotReadyAddresses: true}\n---\n${STATEFULSET}`;
    expect(injectText(anchored, { image: IMAGE }).report.changes.length).toBeGreaterThan(0);
  });

  it('allows nesting right up to the limit', () => {
    const nested = `${'['.repeat(MAX_NESTING - 1)}${']'.repeat(MAX_NESTING - 1)}`;
    expect(() =>
      injectText(`apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: ${nested}\n`, { image: IMAGE }),
    ).not.toThrow();
  });
});

describe('large streams', () => {
  const configMap = (i: number) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  key: "value ${i}"\n`;

  it('passes documents it never reads through byte for byte, and still injects workloads among them', () => {
    const docs = [configMap(0), STATEFULSET, configMap(1), '# trailing comment only\n'];
    const text = docs.join('---\n');
    const { output, report } = injectText(text, { image: IMAGE });
    expect(report.changes.length).toBeGreaterThan(0);
    const out = output.split(/^---$/m);
    expect(out[0]).toBe(configMap(0));
    expect(out[2]).toBe(`\n${configMap(1)}`);
    expect(out[3]).toBe('\n# trailing comment only\n');
    expect(output).toContain(IMAGE);
  });

  it.each([
    ['a quoted kind', STATEFULSET.replace('kind: StatefulSet', 'kind: "StatefulSet"')],
    ['a kind with a comment', STATEFULSET.replace('kind: StatefulSet', 'kind: StatefulSet # the workload')],
    ['a JSON-style document', JSON.stringify(parseAllDocuments(STATEFULSET)[0]!.toJS())],
    ['a document with a directive', `%YAML 1.2\n---\n${STATEFULSET}`],
    ['a stream with an end marker', `${STATEFULSET}...\n`],
    ['a List', `apiVersion: v1\nkind: List\nitems:\n${asItem(STATEFULSET)}`],
  ])('still parses and injects %s', (_name, text) => {
    const { output } = injectText(text, { image: IMAGE });
    expect(output).toContain(IMAGE);
  });

  it('still refuses invalid YAML in a document it reads', () => {
    expect(refusal(`${configMap(0)}---\nkind: [unclosed\n`)).toMatch(/^document 2 is not valid YAML: /);
  });

  it('pairs the items of a long List by hashing, each item injected once and in its place', () => {
    const items = Array.from({ length: 1000 }, (_, i) => STATEFULSET.replace('name: web', `name: web-${i}`));
    const list = `apiVersion: v1\nkind: List\nitems:\n${items.map(asItem).join('')}`;
    const out = parseAllDocuments(injectText(list, { image: IMAGE }).output)[0]!.toJS() as {
      items: { metadata: { name: string }; spec: { template: { spec: { initContainers?: unknown[] } } } }[];
    };
    expect(out.items.map((i) => i.metadata.name)).toEqual(items.map((_, i) => `web-${i}`));
    expect(out.items.every((i) => (i.spec.template.spec.initContainers ?? []).length > 0)).toBe(true);
    // Reading the 2.5 MB output back with the YAML library takes 15-22 s on a loaded CI core; the time is not what this
    // test checks (the bench's size rows do), so it gets room beyond the 30 s default.
  }, 120_000);
  it('injects a List and a bundle of the same objects to the same objects, with the same warnings', () => {
    const service = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n';
    const objects = [
      ...Array.from({ length: 5 }, (_, i) => STATEFULSET.replace('name: web', `name: web-${i}`)),
      configMap(7),
      service,
    ];
    const list = injectText(`apiVersion: v1\nkind: List\nitems:\n${objects.map(asItem).join('')}`, { image: IMAGE });
    const bundle = injectText(objects.join('---\n'), { image: IMAGE });
    const fromList = parseAllDocuments(list.output).map((d) => d.toJS() as { items?: unknown[] });
    const fromBundle = parseAllDocuments(bundle.output).map((d) => d.toJS() as unknown);
    // the bundle's documents are the List's items, then the objects inject adds (once, after the input)
    expect(fromList[0]!.items).toEqual(fromBundle.slice(0, objects.length));
    expect(fromList.slice(1)).toEqual(fromBundle.slice(objects.length));
    expect(list.report.warnings).toEqual(bundle.report.warnings);
    expect(bundle.report.warnings.some((w) => w.includes('publishNotReadyAddresses'))).toBe(true);
    // every StatefulSet was injected, the ConfigMap and the Service were not touched
    objects.slice(0, 5).forEach((object, i) => {
      expect(fromBundle[i]).not.toEqual(parseAllDocuments(object)[0]!.toJS());
    });
    expect(fromBundle[5]).toEqual(parseAllDocuments(configMap(7))[0]!.toJS());
    expect(fromBundle[6]).toEqual(parseAllDocuments(service)[0]!.toJS());
  });
});

describe('lockstep inject reads only what is a manifest (bundled)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-inject-input-'));
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it.each([
    [
      'a file over --max-input-size',
      () => ['-f', file('big.yaml', `${STATEFULSET}#${'x'.repeat(2048)}\n`), '--max-input-size', '1Ki'],
      undefined,
      /^error: .*big\.yaml is \d+ bytes, over the 1Ki limit \(raise it with --max-input-size\)\n$/,
    ],
    [
      'stdin over --max-input-size',
      () => ['-f', '-', '--max-input-size', '1Ki'],
      `${STATEFULSET}#${'x'.repeat(4096)}\n`,
      /^error: stdin is more than \d+ bytes, over the 1Ki limit/,
    ],
    [
      'binary data (NUL bytes)',
      () => ['-f', file('model.bin', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))],
      undefined,
      /^error: .*model\.bin is not a YAML or JSON manifest: binary data \(a NUL byte at offset 8\)\n$/,
    ],
    [
      'invalid UTF-8',
      () => ['-f', file('latin1.yaml', Buffer.from('kind: ConfigMap\ndata: {a: "caf\xe9"}\n', 'latin1'))],
      undefined,
      /is not a YAML or JSON manifest: binary data \(not UTF-8 text\)\n$/,
    ],
    [
      'a directory',
      () => {
        mkdirSync(join(dir, 'sub'), { recursive: true });
        return ['-f', join(dir, 'sub')];
      },
      undefined,
      /^error: .*sub is a directory, not a manifest file\n$/,
    ],
    ['a missing file', () => ['-f', join(dir, 'nope.yaml')], undefined, /^error: cannot read .*nope\.yaml: ENOENT/],
    [
      'an alias bomb',
      () => ['-f', file('bomb.yaml', aliasBomb(9))],
      undefined,
      /^error: document 1 expands its YAML aliases too far/,
    ],
    [
      'a bad --max-input-size',
      () => ['-f', '-', '--max-input-size', '16MB'],
      '',
      /^error: option '--max-input-size <size>' argument '16MB' is invalid\. "16MB" is not a size/,
    ],
  ])('%s', (_name, args, input, stderr) => {
    const r = runBundle('lockstep', ['inject', ...args()], {}, input);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(stderr);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.status).toBe(/argument/.test(stderr.source) ? 2 : 1);
  });

  it('refuses a FIFO instead of waiting on it for ever', () => {
    const fifo = join(dir, 'pipe.yaml');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = runBundle('lockstep', ['inject', '-f', fifo]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/pipe\.yaml is a FIFO, not a manifest file\n$/);
  });

  it('says the default limit in --help', () => {
    expect(runBundle('lockstep', ['inject', '--help']).stdout.replace(/\s+/g, ' ')).toContain('(default: 16Mi');
  });
});
