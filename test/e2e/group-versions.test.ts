/**
 * The group e2e's essential path on each emulated Kubernetes release (the CI matrix; the full story, with restarts
 * and an XID, is group.test.ts): two simulated 8x H100 nodes with real agents, the injected StatefulSet example
 * forming a real torch.distributed group that all-reduces, GroupReady, and the workload's deletion leaving nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBERNETES_VERSIONS } from '../cluster/versions.js';
import { GROUP } from './manifests.js';
import { Story } from './story.js';

describe.each(KUBERNETES_VERSIONS)('a StatefulSet group on Kubernetes %s', (version) => {
  let story: Story;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `lockstep-e2e-${version}-`));
    story = await Story.start(dir, { version });
    await story.startAgents();
  }, 60_000);

  afterAll(async () => {
    await story?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('forms, all-reduces, is GroupReady, and leaves nothing behind when deleted', async () => {
    const counts = await story.waitForSlices(60_000);
    expect([...counts.values()]).toEqual([8, 8]);
    expect(await story.applyWorkload()).toContain(`statefulset.apps/${GROUP} created`);
    const pods = await story.waitForPodsRunning(90_000);
    expect(pods.map((p) => p.metadata.name)).toEqual([`${GROUP}-0`, `${GROUP}-1`]);
    const lines = await story.waitForAllReduce(90_000);
    expect([...lines.values()].map((l) => l.replace(/ step=\d+/, ''))).toEqual([
      'allreduce epoch=1 rank=0/2 sum=3',
      'allreduce epoch=1 rank=1/2 sum=3',
    ]);
    await story.waitForGroupReady(30_000);
    await story.deleteWorkload(60_000);
    expect(await story.leftovers()).toEqual({ cdiSpecs: [], claims: [], processes: [] });
  }, 300_000);
});
