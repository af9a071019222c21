/**
 * The program in-process with hand-made lists: what needs a terminal (colour), a seam (a forbidden list, a watch
 * fed by hand) or an exact request count. The real kubectl and API server are in plugin.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runProgram } from '../../src/cli/run-program.js';
import type { GroupStatus } from '../../src/contract/group-status.js';
import {
  ClusterReadError,
  type ClusterReader,
  type KindMap,
  type ReadKind,
  type Scope,
} from '../../src/kubectl/cluster.js';
import { type Connected, kubectlProgram } from '../../src/kubectl/program.js';
import type { ChangeSource } from '../../src/kubectl/watch.js';
import { h100Slice, node, recoveringGroup } from './fixtures.js';

type Lists = { [K in ReadKind]: KindMap[K][] };

function fakeReader(
  lists: Lists,
  calls: { kind: ReadKind; scope: Scope }[] = [],
  forbid: ReadKind[] = [],
): ClusterReader {
  return {
    async list<K extends ReadKind>(kind: K, scope: Scope): Promise<KindMap[K][]> {
      calls.push({ kind, scope });
      if (forbid.includes(kind))
        throw new ClusterReadError('forbidden', `listing ${kind}: Forbidden: User "bob" cannot list`);
      return lists[kind];
    },
  };
}

function cluster(): Lists {
  const { pods, claims } = recoveringGroup('ml');
  return {
    resourceslices: [h100Slice('h100-a'), h100Slice('h100-b', { unhealthy: { 'gpu-3': 'xid-79' } })],
    nodes: [node('h100-a'), node('h100-b')],
    pods,
    resourceclaims: claims,
    events: [],
    devicetaintrules: [],
  };
}

async function run(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    tty?: boolean;
    connected?: Partial<Connected>;
    lists?: Lists;
    untilStopped?: () => Promise<void>;
    onStdout?: (all: string) => void;
  } = {},
) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: (t: string) => {
      stdout += t;
      options.onStdout?.(stdout);
    },
    stderr: (t: string) => {
      stderr += t;
    },
  };
  const program = kubectlProgram(options.env ?? {}, {
    ...io,
    stdoutIsTTY: options.tty ?? false,
    now: () => new Date('2026-11-22T05:30:00Z'),
    connect: () => ({ reader: fakeReader(options.lists ?? cluster()), namespace: 'ml', ...options.connected }),
    untilStopped: options.untilStopped ?? (() => Promise.resolve()),
  });
  const code = await runProgram(program, args, io);
  return { code, stdout, stderr };
}

describe('kubectl lockstep (in-process)', () => {
  it('colours health on a terminal, not with NO_COLOR, never in JSON', async () => {
    const tty = await run(['devices', 'h100-b'], { tty: true });
    expect(tty.stdout).toContain('\u001b[31mUnhealthy\u001b[0m');
    expect(tty.stdout).toContain('\u001b[32mHealthy\u001b[0m');
    const plain = await run(['devices', 'h100-b'], { tty: true, env: { NO_COLOR: '1' } });
    expect(plain.stdout).not.toContain('\u001b[');
    expect((await run(['devices', '-o', 'json'], { tty: true })).stdout).not.toContain('\u001b[');
  });

  it('prints nothing a peer wrote raw: escapes and control characters are replaced, long names cut', async () => {
    const lists = cluster();
    const leader = lists.pods[0]!;
    const annotations = leader.metadata.annotations ?? {};
    const key = Object.keys(annotations)[0]!;
    const status = JSON.parse(annotations[key]!) as GroupStatus;
    const hostile = '\u001b[2J\u001b]0;pwned\u0007';
    status.lastReason = `engine exited: ${hostile}`;
    status.members[1]!.reason = `${hostile}\nforged line`;
    status.members[1]!.pod = 'p'.repeat(100_000);
    annotations[key] = JSON.stringify(status);
    for (const args of [['groups'], ['group', 'llama', '-o', 'wide'], ['check']]) {
      const r = await run(args, { tty: true, lists, env: { NO_COLOR: '1' } });
      expect(r.stdout).not.toContain('\u001b');
      expect(r.stdout).not.toContain('\u0007');
      expect(r.stdout).not.toContain('p'.repeat(1025));
      expect(r.stdout).not.toContain('\nforged line');
    }
    const detail = await run(['group', 'llama'], { lists });
    expect(detail.stderr).toBe('');
    expect(detail.stdout).toContain('?[2J?]0;pwned?');
  });

  it('group shows the serving fraction and the last recovery; groups -o wide as columns', async () => {
    const detail = await run(['group', 'llama']);
    // 2220 s Running of 2400 s accounted to 05:10, then 20 min Recovering until now (05:30)
    expect(detail.stdout).toMatch(
      /\nServing: +61\.7% since 2026-11-22T04:10:00\.000Z \(Forming 2m, Running 37m, Recovering 21m\)\n/,
    );
    expect(detail.stdout).toMatch(/\nLast Recovery: +3\.42s \(2 recoveries: device 1, engine 1\)\n/);
    const wide = await run(['groups', '-o', 'wide']);
    const [head, row] = wide.stdout.split('\n').map((l) => l.split(/ {2,}/));
    expect(row?.[head!.indexOf('SERVING')]).toBe('61.7%');
    expect(row?.[head!.indexOf('LAST RECOVERY')]).toBe('3.42s');
    // a malformed goodput in the annotation is not shown as a figure
    const lists = cluster();
    const annotations = lists.pods[0]!.metadata.annotations ?? {};
    const key = Object.keys(annotations)[0]!;
    annotations[key] = JSON.stringify({ ...JSON.parse(annotations[key]!), goodput: { seconds: 'lots' } });
    const broken = await run(['group', 'llama'], { lists });
    expect(broken.stdout).toMatch(/\nServing: +<unknown>\nLast Recovery: +<none>\n/);
  });

  it('takes the namespace from the context, -n over it, -A over both', async () => {
    const calls: { kind: ReadKind; scope: Scope }[] = [];
    const connected = { reader: fakeReader(cluster(), calls) };
    await run(['pods'], { connected });
    await run(['pods', '-n', 'other', '-l', 'app=x'], { connected });
    await run(['pods', '-n', 'other', '-A'], { connected });
    expect(calls.filter((c) => c.kind === 'pods').map((c) => c.scope)).toEqual([
      { namespace: 'ml' },
      { namespace: 'other', labelSelector: 'app=x' },
      {},
    ]);
  });

  it.each([
    // [verb, the kind its error line names: the first of its reads, whichever the API server answers first, prefix]
    [['devices'], 'resourceslices', ''],
    [['pods'], 'pods', ''],
    [['check'], 'resourceslices', 'could not check: '],
  ] as const)('%j as someone who may read nothing names the same list every time: %s', async (args, first, prefix) => {
    // the later reads are refused at once, the first one only after them
    const slowFirst: ClusterReader = {
      async list<K extends ReadKind>(kind: K): Promise<KindMap[K][]> {
        if (kind === first) await new Promise((r) => setTimeout(r, 20));
        throw new ClusterReadError('forbidden', `listing ${kind}: Forbidden: User "bob" cannot list`);
      },
    };
    const r = await run([...args], { connected: { reader: slowFirst } });
    expect(r.stderr).toBe(`error: ${prefix}listing ${first}: Forbidden: User "bob" cannot list\n`);
    expect(r.stdout).toBe('');
  });

  it('shows nodes without Node objects when those may not be listed, with a warning', async () => {
    const r = await run(['nodes'], { connected: { reader: fakeReader(cluster(), [], ['nodes']) } });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'warning: listing nodes: Forbidden: User "bob" cannot list (node taints and ages not shown)\n',
    );
    expect(r.stdout.split('\n')).toHaveLength(4);
  });

  it('devices NODE names holders in every namespace; with claims readable only in one, shows those and warns', async () => {
    const calls: { kind: ReadKind; scope: Scope }[] = [];
    const inOther = await run(['devices', 'h100-a', '-n', 'quiet'], {
      connected: { reader: fakeReader(cluster(), calls) },
    });
    expect(calls.filter((c) => c.kind === 'resourceclaims').map((c) => c.scope)).toEqual([{}]);
    const gpu0 = inOther.stdout.split('\n').find((l) => l.startsWith('gpu-0 '))!;
    expect(gpu0.trim().split(/ {3,}/).slice(-2)).toEqual(['ml/llama-0-gpus', 'ml/llama-0']);
    const inOwn = await run(['devices', 'h100-a', '-n', 'ml'], { connected: { reader: fakeReader(cluster()) } });
    const own = inOwn.stdout.split('\n').find((l) => l.startsWith('gpu-0 '))!;
    expect(own.trim().split(/ {3,}/).slice(-2)).toEqual(['llama-0-gpus', 'llama-0']);

    const lists = cluster();
    const namespacedOnly: ClusterReader = {
      async list<K extends ReadKind>(kind: K, scope: Scope): Promise<KindMap[K][]> {
        if (kind === 'resourceclaims' && scope.namespace === undefined) {
          throw new ClusterReadError(
            'forbidden',
            'listing resourceclaims: Forbidden: User "bob" cannot list at cluster scope',
          );
        }
        return kind === 'resourceclaims'
          ? (lists.resourceclaims.filter((c) => c.metadata.namespace === scope.namespace) as KindMap[K][])
          : lists[kind];
      },
    };
    const limited = await run(['devices', 'h100-a', '-n', 'ml'], { connected: { reader: namespacedOnly } });
    expect(limited.code).toBe(0);
    expect(limited.stderr).toBe(
      'warning: listing resourceclaims: Forbidden: User "bob" cannot list at cluster scope (holders outside namespace ml not shown)\n',
    );
    expect(limited.stdout).toMatch(/\ngpu-0 .* llama-0-gpus +llama-0\n/);
    const all = await run(['devices', '-A'], { connected: { reader: namespacedOnly } });
    expect(all).toMatchObject({ code: 1, stdout: '' });
  });

  it('check on a cluster where no agent has published says so and exits 1; counts read as English', async () => {
    const none: Lists = {
      resourceslices: [],
      nodes: [],
      pods: [],
      resourceclaims: [],
      events: [],
      devicetaintrules: [],
    };
    const r = await run(['check', '-A'], { lists: none });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      'KIND    OBJECT    PROBLEM\nagent   cluster   no lockstep agent has published devices (no ResourceSlices of driver lockstep.dev): is the agent DaemonSet running?\n',
    );
    expect(r.stderr).toBe('error: 1 problem found (0 devices on 0 nodes, 0 pods with devices, 0 groups)\n');
    const json = JSON.parse((await run(['check', '-A', '-o', 'json'], { lists: none })).stdout);
    expect(json).toMatchObject({ ok: false, problems: [{ kind: 'agent', object: 'cluster' }] });
    const some = await run(['check', '-A']);
    expect(some.stderr).toMatch(/ found \(32 devices on 2 nodes, 2 pods with devices, 1 group\)\n$/);
  });

  it('a long XID reason is one short line in tables with the clear hint once, whole in -o wide', async () => {
    const lists = cluster();
    const hint = 'After a GPU reset, clear with: echo gpu-3 > /var/lib/lockstep/clear-xid';
    const message = `XID 79 on 0000:5d:00.0: GPU has fallen off the bus (action: reboot) at 2026-11-22T05:00:00Z. Kernel: ${'NVRM: Xid 79 '.repeat(20)}. ${hint}`;
    // the coordinator names the fault in the group's last reason, as it does after an XID
    for (const p of lists.pods) {
      const annotations = p.metadata.annotations ?? {};
      const status = annotations['lockstep.dev/group-status'];
      if (status)
        annotations['lockstep.dev/group-status'] = JSON.stringify({ ...JSON.parse(status), lastReason: message });
    }
    const table = await run(['check', '-A'], { lists });
    const rows = table.stdout.split('\n').filter((l) => l.includes('XID 79'));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.split(/ {3,}/).at(-1)!.length).toBeLessThanOrEqual(120);
    expect(table.stdout).not.toContain('clear with');
    expect(table.stdout.match(/clear its XID fault/g)).toHaveLength(1);
    const group = await run(['group', 'llama'], { lists });
    expect(group.stdout).toMatch(/\nLast Reason: +XID 79 on 0000:5d:00\.0: .{20,}…\n/);
    expect(group.stdout.match(/clear its XID fault/g)).toHaveLength(1);
    const wide = await run(['check', '-A', '-o', 'wide'], { lists });
    expect(wide.stdout).toContain(hint);
    expect(wide.stdout).not.toContain('clear its XID fault');
  });

  it('check: 1 with problems, 3 when a list is forbidden, 3 when there is no configuration', async () => {
    expect((await run(['check', '-A'])).code).toBe(1);
    const forbidden = await run(['check'], { connected: { reader: fakeReader(cluster(), [], ['pods']) } });
    expect(forbidden).toMatchObject({ code: 3, stdout: '' });
    expect(forbidden.stderr).toBe('error: could not check: listing pods: Forbidden: User "bob" cannot list\n');
  });

  it('-w redraws from the watch caches when a list changes, and only when the output differs', async () => {
    const before = cluster();
    const after = cluster();
    after.resourceslices = [h100Slice('h100-a', { unhealthy: { 'gpu-0': 'xid-48' } }), before.resourceslices[1]!];
    let current = before;
    let release!: () => void;
    const stopped = new Promise<void>((r) => {
      release = r;
    });
    const changes: ChangeSource = {
      async start(watched, onChange) {
        expect(watched.map((c) => c.kind).sort()).toEqual(['nodes', 'resourceslices']);
        onChange(); // nothing changed yet: no redraw
        setImmediate(() => {
          current = after;
          onChange();
        });
        return {
          reader: { list: async <K extends ReadKind>(kind: K): Promise<KindMap[K][]> => current[kind] },
          stop: async () => {},
        };
      },
    };
    const r = await run(['nodes', '-w', '--no-headers'], {
      connected: { changes },
      untilStopped: () => stopped,
      onStdout: (all) => {
        if (all.includes('\n\n')) release();
      },
    });
    expect(r.code).toBe(0);
    const frames = r.stdout.split('\n\n');
    expect(frames).toHaveLength(2);
    expect(frames[0]).toMatch(/^h100-a +8 +8 +16 +0 /);
    expect(frames[1]).toMatch(/^h100-a +8 +8 +15 +1 /);
  });

  describe('kubectl conventions', () => {
    it('-o name prints kind/name per object', async () => {
      expect((await run(['nodes', '-o', 'name'])).stdout).toBe('node/h100-a\nnode/h100-b\n');
      expect((await run(['groups', '-o', 'name'])).stdout).toBe('group/llama\n');
      expect((await run(['devices', '-o', 'name'])).stdout.split('\n')).toContain('device/h100-b/gpu-3');
    });

    it('-o jsonpath= runs kubectl templates (paths, filters, range, literals); -o=json and -ojson work', async () => {
      expect((await run(['nodes', '-o', 'jsonpath={.items[*].node}'])).stdout).toBe('h100-a h100-b');
      const bad = await run([
        'devices',
        '-o',
        'jsonpath={range .items[?(@.health=="Unhealthy")]}{.node}/{.name}: {.reason}{"\\n"}{end}',
      ]);
      expect(bad.stdout).toBe('h100-b/gpu-3: xid-79\n');
      expect(JSON.parse((await run(['nodes', '-o=json'])).stdout).kind).toBe('NodeList');
      expect(JSON.parse((await run(['nodes', '-ojson'])).stdout).kind).toBe('NodeList');
    });

    it('-o custom-columns= prints the headers as given and <none> for what is missing', async () => {
      const r = await run(['devices', '-o', 'custom-columns=Node:.node,NAME:.name,Health:.health,Why:.reason']);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^Node +NAME +Health +Why$/);
      expect(lines).toContainEqual(expect.stringMatching(/^h100-b +gpu-3 +Unhealthy +xid-79$/));
      expect(lines).toContainEqual(expect.stringMatching(/^h100-b +gpu-0 +Healthy +<none>$/));
    });

    it('--sort-by orders the table and -o json alike', async () => {
      const table = await run(['nodes', '--sort-by', '{.healthy}', '--no-headers']);
      expect(table.stdout.split('\n').map((l) => l.split(' ')[0])).toEqual(['h100-b', 'h100-a', '']);
      const json = JSON.parse((await run(['nodes', '--sort-by=.healthy', '-o', 'json'])).stdout);
      expect(json.items.map((n: { node: string }) => n.node)).toEqual(['h100-b', 'h100-a']);
    });

    it('takes the global flags before the verb too; after the verb wins', async () => {
      const calls: { kind: ReadKind; scope: Scope }[] = [];
      const connected = { reader: fakeReader(cluster(), calls) };
      await run(['-A', 'pods'], { connected });
      await run(['-n', 'other', 'pods', '-n', 'third'], { connected });
      await run(['--namespace=other', '-l', 'app=x', 'pods'], { connected });
      expect(calls.filter((c) => c.kind === 'pods').map((c) => c.scope)).toEqual([
        {},
        { namespace: 'third' },
        { namespace: 'other', labelSelector: 'app=x' },
      ]);
      expect((await run(['-o', 'name', 'nodes'])).stdout).toBe('node/h100-a\nnode/h100-b\n');
    });

    it.each([
      [['nodes', '-o', 'xml'], /^error: .*unable to match a printer suitable for the output format "xml"/],
      [['nodes', '-o', 'jsonpath={.items[0'], /^error: .*jsonpath .*unclosed/],
      [['nodes', '-o', 'custom-columns=NAME'], /^error: .*custom-columns: "NAME" is not HEADER:PATH/],
      [['nodes', '--request-timeout', 'soon'], /^error: .*"soon" is not a duration/],
      [['-o', 'xml', 'nodes'], /^error: .*unable to match a printer/],
    ])('usage error: %j', async (args, message) => {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  });
});
