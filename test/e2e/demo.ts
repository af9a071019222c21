/**
 * `npm run demo`: the whole story on one machine, with real processes and the real CLIs.
 *   test cluster (API server double, scheduler-lite, StatefulSet controller-lite, DNS, two simulated 8x H100 nodes
 *   whose kubelet emulators run pods as local processes) → two `lockstep agent`s → the StatefulSet example, with a
 *   torch.distributed gloo all-reduce standing in for vLLM → the group forms → XID 79 on a member's GPU → the group
 *   recovers on a healthy GPU.
 * Every step asserts what it shows; the summary says which steps passed. Exit 0 only when every step passed.
 *   npm run demo [-- --keep]   (--keep: leave the working directory for inspection)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUP, NAMESPACE } from './manifests.js';
import { type MemberDevice, Story, until } from './story.js';

const keep = process.argv.includes('--keep');
const started = Date.now();
const out = (text: string) => process.stdout.write(`${text}\n`);
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;
const banner = (text: string) => out(`\n${stamp()} ── ${text}`);
const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

interface StepResult {
  name: string;
  ok: boolean;
  detail: string;
}
const results: StepResult[] = [];
out(`lockstep demo · node ${process.version}`);

async function step<T>(name: string, body: () => Promise<T>, describe?: (value: T) => string): Promise<T | undefined> {
  banner(name);
  try {
    const value = await body();
    const detail = describe ? describe(value) : '';
    results.push({ name, ok: true, detail });
    out(`${stamp()} ✓ ${name}${detail ? `: ${detail}` : ''}`);
    return value;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    results.push({ name, ok: false, detail });
    out(`${stamp()} ✗ ${name}: ${detail}`);
    return undefined;
  }
}

function skip(name: string, why: string): void {
  results.push({ name, ok: false, detail: `not run: ${why}` });
  banner(name);
  out(`${stamp()} – not run: ${why}`);
}

const dir = await mkdtemp(join(tmpdir(), 'lockstep-demo-'));
let story: Story | undefined;
try {
  story = await step(
    'start the test cluster: API server, scheduler-lite, StatefulSet controller, DNS, 2 simulated 8x H100 nodes; apply deploy/base',
    () => Story.start(dir),
    (s) => `API server ${s.cluster.apiServer.url}, kubeconfig ${s.kubeconfig}`,
  );
  if (!story) throw new Error('no cluster');
  const s = story;

  const published = await step(
    'start one `lockstep agent` per node; each publishes its GPUs and NICs and registers its DRA plugin',
    async () => {
      await s.startAgents();
      return s.waitForSlices(90_000);
    },
    (counts) => [...counts].map(([node, n]) => `${node}: ${n} GPUs`).join(', '),
  );
  if (published) out(indent(await s.kubectlLockstep(['nodes'])));

  const applied = published
    ? await step('`lockstep inject` the StatefulSet example (torch job for vLLM) and `kubectl apply` it', () =>
        s.applyWorkload().then((text) => {
          out(indent(text));
          return true;
        }),
      )
    : undefined;
  if (!applied) skip('the group forms', 'nothing applied');

  let formed = false;
  if (applied) {
    const pods = await step(
      'pods scheduled, claims allocated, init containers (coordinator sidecar, bootstrap) and the engine running',
      () => s.waitForPodsRunning(120_000),
      (list) =>
        list
          .map(
            (p) =>
              `${p.metadata.name} on ${(p.spec as { nodeName?: string }).nodeName} (${(p.status as { podIP?: string }).podIP})`,
          )
          .join(', '),
    );
    out(indent(await s.kubectlLockstep(['group', GROUP, '-n', NAMESPACE])));
    if (pods) {
      const lines = await step(
        'the group forms: every member runs torch.distributed and all-reduces across the group (sum 1+2 = 3)',
        () => s.waitForAllReduce(120_000),
        (map) => [...map].map(([pod, line]) => `${pod}: "${line}"`).join('; '),
      );
      formed = lines !== undefined;
      await step('the coordinator reports the group Ready (lockstep.dev/GroupReady, the readiness gate)', () =>
        s.waitForGroupReady(30_000).then(() => true),
      );
      out(indent(await s.kubectl(['get', 'pods', '-n', NAMESPACE, '-o', 'wide'])));
      out(indent(await s.kubectlLockstep(['groups', '-n', NAMESPACE])));
      out(indent(await s.kubectlLockstep(['pods', '-n', NAMESPACE])));
    }
  }

  let victim: MemberDevice | undefined;
  let oldUid = '';
  if (formed) {
    victim = await step(
      `inject XID 79 (GPU has fallen off the bus) on the GPU of ${GROUP}-1`,
      async () => {
        const member = await s.memberGpu(`${GROUP}-1`);
        oldUid = (await s.pod(`${GROUP}-1`))?.metadata.uid ?? '';
        const line = await s.injectXid(member, 79);
        out(indent(`${member.node} kernel log: ${line}`));
        return member;
      },
      (m) => `${m.pod} holds ${m.node}/${m.device} (${m.pciBusID}, ${m.uuid})`,
    );
  } else {
    skip('inject XID 79 on a member GPU', 'the group did not form');
  }

  if (victim) {
    const member = victim;
    await step(
      'the agent marks the GPU unhealthy in its ResourceSlice (healthy=false, lockstep.dev/xid=79 taint)',
      () => s.waitForDeviceUnhealthy(member, 30_000),
      (r) => (r.taint ? `taint ${JSON.stringify(r.taint)}` : 'healthy=false'),
    );
    await step(
      `the agent sets ${'lockstep.dev/DevicesHealthy'}=False on ${member.pod}`,
      () => s.waitForDevicesHealthy(member.pod, 'False', 30_000, oldUid),
      (message) => message,
    );
    await step(
      "the kubelet sees the device Unhealthy on the plugin's health stream (KEP-4680 NodeWatchResources)",
      () => s.waitForKubeletHealth(member, 'Unhealthy', 30_000),
      (text) => `${member.node}/${member.device}: ${text}`,
    );
    out(indent(await s.kubectlLockstep(['devices', member.node])));
    out(indent(await s.kubectlLockstep(['pods', '-n', NAMESPACE])));
    const replaced = await step(
      `recovery: the coordinator deletes ${member.pod}, the StatefulSet controller creates it again`,
      () => s.waitForPodReplaced(member.pod, oldUid, 60_000),
      (p) => `new uid ${p.metadata.uid}`,
    );
    if (replaced) {
      await step(
        'the scheduler places the new pod on a healthy GPU',
        async () => {
          const now = await until(`${member.pod} to get devices again`, () => s.memberGpu(member.pod), 60_000, 250);
          if (now.node === member.node && now.device === member.device) {
            throw new Error(`${member.pod} got the failed GPU ${member.node}/${member.device} again`);
          }
          return now;
        },
        (m) => `${m.pod} now holds ${m.node}/${m.device} (${m.pciBusID}, ${m.uuid})`,
      );
      await step(
        'the group forms again in a new epoch and all-reduces (sum 3)',
        async () => {
          await s.waitForPodsRunning(90_000);
          const lines = await s.waitForAllReduce(60_000, 2);
          const gpus = await s.engineGpus(`${GROUP}-1`);
          if (gpus === victim?.uuid) throw new Error(`the restarted engine still sees the failed GPU ${gpus}`);
          out(
            indent(`${GROUP}-1's engine now sees NVIDIA_VISIBLE_DEVICES=${gpus} (from the CDI spec of its new claim)`),
          );
          return lines;
        },
        (map) => [...map].map(([pod, line]) => `${pod}: "${line}"`).join('; '),
      );
      out(indent(await s.kubectlLockstep(['group', GROUP, '-n', NAMESPACE])));
    }
  }
} catch (error) {
  out(`demo stopped: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  banner('stopping');
  await story?.stop().catch((error: unknown) => out(`stop failed: ${String(error)}`));
  if (!keep) await rm(dir, { recursive: true, force: true });
  else out(`working directory kept: ${dir}`);
}

out('\n══ summary ══');
for (const r of results) out(`${r.ok ? '✓' : '✗'} ${r.name}${r.ok ? '' : `\n    ${r.detail}`}`);
const failed = results.filter((r) => !r.ok).length;
out(`\n${results.length - failed}/${results.length} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
