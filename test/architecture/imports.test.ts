/**
 * The import rule of README's map: arrows point down. Every production source file's imports (static, dynamic and
 * type-only, read with the TypeScript compiler's own pre-processor) are checked against the rooms and layers below:
 * a file may import its own room, a room of a lower layer, or a room of its own layer and group; and no set of rooms
 * may import each other in a circle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_ROOTS = ['src', 'agent', 'leader'];

/** Higher layers may import lower ones, never the other way. */
const LAYER = { entry: 5, commands: 4, cliKit: 3, domain: 2, infrastructure: 1 } as const;
type Layer = keyof typeof LAYER;

interface Place {
  room: string;
  layer: Layer;
  /** rooms of one layer may import each other only within a group (the agent never imports the leader) */
  group: string;
}

const ENTRY_POINTS = new Set([
  'src/cli/lockstep.ts',
  'src/cli/lockstep-program.ts',
  'src/cli/kubectl-lockstep.ts',
  'src/cli/kubectl-complete-lockstep.ts',
]);
const INFRASTRUCTURE = new Set([
  'src/kube',
  'src/contract',
  'src/fs',
  'src/log',
  'src/net',
  'src/text',
  'src/proto',
  'src/version',
  'src/signals',
  'src/errors',
]);

/** The room and layer of a production file, or a description of why it has none (a new folder not on the map). */
function placeOf(file: string): Place | string {
  if (ENTRY_POINTS.has(file)) return { room: 'src/cli (entry points)', layer: 'entry', group: 'cli' };
  const parts = file.replace(/\.ts$/, '').split('/');
  const room = parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts.join('/');
  if (room === 'src/commands' || room === 'src/kubectl') return { room, layer: 'commands', group: 'cli' };
  if (room === 'src/cli') return { room, layer: 'cliKit', group: 'cli' };
  if (room === 'src/inject') return { room, layer: 'domain', group: 'inject' };
  if (parts[0] === 'agent') return { room: parts.length > 2 ? room : 'agent', layer: 'domain', group: 'agent' };
  if (parts[0] === 'leader') return { room, layer: 'domain', group: 'leader' };
  if (INFRASTRUCTURE.has(room)) return { room, layer: 'infrastructure', group: 'infrastructure' };
  return `${file}: room ${room} is not on the map (README's map and test/architecture/imports.test.ts)`;
}

/** Whether an import from one room to another follows the rule (cycles are checked separately). */
function mayImport(from: Place, to: Place): boolean {
  if (from.room === to.room) return true;
  if (LAYER[to.layer] < LAYER[from.layer]) return true;
  return LAYER[to.layer] === LAYER[from.layer] && to.group === from.group;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of a file, resolved to repository paths (`.js` specifiers name the `.ts` source). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return info.importedFiles
    .map((ref) => ref.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

/** Strongly connected sets of more than one room (Tarjan): each is a cycle between rooms. */
function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('the import rule', () => {
  const files = SOURCE_ROOTS.flatMap(sourceFiles).sort();

  it('finds the production sources', () => {
    expect(files).toContain('src/cli/lockstep.ts');
    expect(files).toContain('agent/agent.ts');
    expect(files.length).toBeGreaterThan(100);
  });

  it('places every production file in a room of the map', () => {
    expect(files.map(placeOf).filter((p): p is string => typeof p === 'string')).toEqual([]);
  });

  it('has no import that points up or across to another program', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = placeOf(file);
      if (typeof from === 'string') continue;
      for (const target of importsOf(file)) {
        if (!SOURCE_ROOTS.includes(target.split('/')[0]!)) {
          violations.push(`${file} imports ${relative(root, join(root, target))}, outside the production sources`);
          continue;
        }
        const to = placeOf(target);
        if (typeof to === 'string') continue;
        if (!mayImport(from, to))
          violations.push(`${file} (${from.room}, ${from.layer}) imports ${target} (${to.room}, ${to.layer})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no cycle between rooms', () => {
    const edges = new Map<string, Set<string>>();
    for (const file of files) {
      const from = placeOf(file);
      if (typeof from === 'string') continue;
      const out = edges.get(from.room) ?? new Set<string>();
      edges.set(from.room, out);
      for (const target of importsOf(file)) {
        const to = placeOf(target);
        if (typeof to !== 'string' && to.room !== from.room) out.add(to.room);
      }
    }
    expect(cycles(edges)).toEqual([]);
  });
});

describe('the rule itself', () => {
  const place = (file: string): Place => placeOf(file) as Place;
  it.each([
    ['src/commands/run/run.ts', 'leader/run/supervisor.ts', true],
    ['src/cli/lockstep-program.ts', 'src/commands/run/index.ts', true],
    ['leader/run/supervisor.ts', 'src/cli/errors.ts', false],
    ['src/kube/config.ts', 'src/cli/exit-codes.ts', false],
    ['src/log.ts', 'src/cli/options.ts', false],
    ['agent/health/manager.ts', 'leader/member/client.ts', false],
    ['leader/coordinator/server.ts', 'agent/health/board.ts', false],
    ['agent/health/manager.ts', 'agent/discovery/inventory.ts', true],
    ['agent/slices/publisher.ts', 'src/kube/client.ts', true],
    ['src/kube/client.ts', 'src/log.ts', true],
    ['src/kube/config.ts', 'agent/discovery/scan.ts', false],
    ['src/commands/inject/run.ts', 'src/inject/text.ts', true],
    ['src/inject/text.ts', 'src/commands/inject/run.ts', false],
  ])('%s → %s: %s', (from, to, allowed) => {
    expect(mayImport(place(from), place(to))).toBe(allowed);
  });

  it('finds a cycle of rooms', () => {
    const edges = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(edges)).toEqual([['a', 'b', 'c']]);
  });

  it('refuses a folder that is not on the map', () => {
    expect(typeof placeOf('src/newroom/x.ts')).toBe('string');
  });
});
