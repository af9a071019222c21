import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { releaseImage } from '../../../deploy/generate.js';
import { runBundle } from '../../support/cli.js';
import { REPO_ROOT } from '../../support/paths.js';

const FIXTURES = join(REPO_ROOT, 'test', 'inject', 'fixtures');
const fixture = (name: string) => join(FIXTURES, name);
const RELEASE_IMAGE = releaseImage();

describe('lockstep inject (bundled)', () => {
  it('reads a file, writes the injected manifests with this version’s image, and says nothing', () => {
    const result = runBundle('lockstep', ['inject', '-f', fixture('lws-vllm-ray.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`image: ${RELEASE_IMAGE}\n`);
    expect(result.stdout).toContain('restartPolicy: None');
  });

  it('reads stdin with -f -, so `lockstep inject -f - | kubectl apply -f -` works', () => {
    const input = readFileSync(fixture('statefulset-torchrun.yaml'), 'utf8');
    const fromFile = runBundle('lockstep', ['inject', '-f', fixture('statefulset-torchrun.yaml')]);
    const fromStdin = runBundle('lockstep', ['inject', '-f', '-'], {}, input);
    expect(fromStdin.status).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
  });

  it('--image overrides the image; its env twin works too', () => {
    const flag = runBundle('lockstep', [
      'inject',
      '-f',
      fixture('job-jax.yaml'),
      '--image',
      'registry.local/lockstep:dev',
    ]);
    expect(flag.stdout).toContain('image: registry.local/lockstep:dev\n');
    expect(flag.stdout).not.toContain(RELEASE_IMAGE);
    const env = runBundle('lockstep', ['inject', '-f', fixture('job-jax.yaml')], {
      LOCKSTEP_IMAGE: 'registry.local/lockstep:env',
    });
    expect(env.stdout).toContain('image: registry.local/lockstep:env\n');
  });

  it('--explain lists every change on stderr, one per line, and "no changes" on a second pass', () => {
    const first = runBundle('lockstep', ['inject', '--explain', '--no-gang', '-f', fixture('lws-vllm-ray.yaml')]);
    const lines = first.stderr.trim().split('\n');
    expect(lines).toContain(
      'LeaderWorkerSet/vllm spec.leaderWorkerTemplate.leaderTemplate: added native sidecar lockstep-coordinator (on the leader)',
    );
    expect(lines.some((l) => l.includes('restartPolicy None (was RecreateGroupOnPodRestart)'))).toBe(true);
    const notes = lines.filter((l) => l.startsWith('note: '));
    expect(lines.filter((l) => !l.startsWith('note: ')).every((l) => l.startsWith('LeaderWorkerSet/vllm spec.'))).toBe(
      true,
    );
    // what inject cannot do itself: the permissions of the coordinator's service account
    expect(notes).toEqual([
      'note: LeaderWorkerSet/vllm: its coordinator runs as service account default; bind it once per namespace: kubectl create rolebinding lockstep-coordinator -n NAMESPACE --clusterrole=lockstep-coordinator --serviceaccount=NAMESPACE:default (and lockstep-tokenreview with a clusterrolebinding, see deploy/README.md)',
      // and why the group gets no PodGroup (gang.test.ts has the cases)
      'note: LeaderWorkerSet/vllm: no gang scheduling: off (--no-gang)',
    ]);
    const second = runBundle('lockstep', ['inject', '--explain', '-f', '-'], {}, first.stdout);
    expect(second.stderr).toBe('no changes\n');
    expect(second.stdout).toBe(first.stdout);
  });

  it("warns when the members' DNS Service would hide not-ready pods", () => {
    const input = readFileSync(fixture('statefulset-torchrun.yaml'), 'utf8').replace(
      'publishNotReadyAddresses: true',
      '',
    );
    const result = runBundle('lockstep', ['inject', '-f', '-'], {}, input);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe(
      "warning: Service/ddp (the DNS names of StatefulSet/ddp's pods) does not set spec.publishNotReadyAddresses: true; members look rank 0 up before any pod is Ready, so they would not find it\n",
    );
  });

  it('--keep-restart-policy leaves an LWS restartPolicy alone', () => {
    const result = runBundle('lockstep', ['inject', '--keep-restart-policy', '-f', fixture('lws-vllm-ray.yaml')]);
    expect(result.stdout).toContain('restartPolicy: RecreateGroupOnPodRestart');
    expect(result.stdout).not.toContain('restartPolicy: None');
  });

  it('wraps a command it does not recognise with --engine=none (never half-injects), and says so on stderr', () => {
    const result = runBundle('lockstep', ['inject', '-f', fixture('unknown-engine.yaml')]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(
      /^warning: StatefulSet\/custom spec.template: container server: no engine recognised in `\/usr\/local\/bin\/my-server --listen=:8080`; wrapped with `lockstep run --engine=none`, which runs it as written with the group's variables and restarts it with the group \(pass --engine to have its command line adapted\)\n$/,
    );
    expect(result.stdout).toContain('--engine=none, --, /usr/local/bin/my-server');
    const forced = runBundle('lockstep', ['inject', '--engine', 'none', '-f', fixture('unknown-engine.yaml')]);
    expect(forced.stderr).toBe('');
    expect(forced.stdout).toContain('--engine=none, --, /usr/local/bin/my-server');
  });

  it('--engine and --command wrap a container that relies on its image entrypoint', () => {
    const refused = runBundle('lockstep', ['inject', '-f', fixture('no-command.yaml')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(
      /^error: StatefulSet\/entrypoint spec.template: container vllm has no command to wrap .*--engine and --command/,
    );
    expect(refused.stdout).toBe('');
    const result = runBundle('lockstep', [
      'inject',
      '-f',
      fixture('no-command.yaml'),
      '--engine',
      'vllm',
      '--command',
      'vllm serve',
    ]);
    expect(result.status).toBe(0);
    const lws = parseAllDocuments(result.stdout)[0]!.toJS() as {
      spec: { template: { spec: { containers: { command: string[]; args: string[] }[] } } };
    };
    const main = lws.spec.template.spec.containers[0]!;
    expect(main.command).toEqual(['/var/run/lockstep/bin/lockstep', 'run', '--engine=vllm', '--', 'vllm', 'serve']);
    expect(main.args).toEqual(['--model', 'Qwen/Qwen2.5-7B-Instruct']);
  });

  it('--command TARGET=… serves one template (llama.cpp: workers run the image entrypoint, the leader a command)', () => {
    const corpus = join(REPO_ROOT, 'test', 'fixtures', 'workloads', 'lws-llamacpp-args-only.yaml');
    const result = runBundle('lockstep', [
      'inject',
      '-f',
      corpus,
      '--engine',
      'none',
      '--command',
      'worker=/rpc-server',
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lws = parseAllDocuments(result.stdout)[0]!.toJS() as {
      spec: { leaderWorkerTemplate: Record<string, { spec: { containers: { command: string[] }[] } }> };
    };
    const command = (role: string) => lws.spec.leaderWorkerTemplate[role]!.spec.containers[0]!.command.slice(2);
    expect(command('workerTemplate')).toEqual(['--engine=none', '--', '/rpc-server']);
    expect(command('leaderTemplate')).toEqual([
      '--engine=none',
      '--',
      '/llamacpp-leader',
      '--',
      '--n-gpu-layers',
      '99',
    ]);
    const typo = runBundle('lockstep', [
      'inject',
      '-f',
      corpus,
      '--command',
      'worker=/rpc-server',
      '--command',
      'wroker=/x',
    ]);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(
      /^error: --command wroker="\/x": nothing in the input is called wroker \(templates and main containers: /,
    );
    const empty = runBundle('lockstep', ['inject', '-f', corpus, '--command', 'worker=']);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toBe('error: --command worker=: no command after the target\n');
  });

  it('--topology-key writes a required pod affinity per group instance; a key that is no label key is a usage error', () => {
    const result = runBundle('lockstep', [
      'inject',
      '-f',
      fixture('lws-vllm-ray.yaml'),
      '--topology-key',
      'cloud.provider.com/network-block',
    ]);
    expect(result.status).toBe(0);
    const lws = parseAllDocuments(result.stdout)[0]!.toJS() as {
      spec: { leaderWorkerTemplate: Record<string, { spec: { affinity: unknown } }> };
    };
    expect(lws.spec.leaderWorkerTemplate.workerTemplate!.spec.affinity).toEqual({
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            labelSelector: { matchLabels: { 'lockstep.dev/group': 'vllm' } },
            matchLabelKeys: ['leaderworkerset.sigs.k8s.io/group-key'],
            topologyKey: 'cloud.provider.com/network-block',
          },
        ],
      },
    });
    const bad = runBundle('lockstep', ['inject', '-f', fixture('lws-vllm-ray.yaml'), '--topology-key', 'a b/c']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('"a b/c" is not a label key');
  });

  it('keeps JSON as JSON (kubectl get -o json)', () => {
    const result = runBundle('lockstep', ['inject', '-f', fixture('list.json')]);
    expect(result.status).toBe(0);
    const list = JSON.parse(result.stdout) as {
      kind: string;
      items: { spec: { leaderWorkerTemplate: { restartPolicy: string } } }[];
    };
    expect(list.kind).toBe('List');
    expect(list.items[0]!.spec.leaderWorkerTemplate.restartPolicy).toBe('None');
  });

  it('passes empty and comment-only input through', () => {
    for (const text of ['', '# nothing here yet\n', '---\n# c\n---\n']) {
      const result = runBundle('lockstep', ['inject', '-f', '-'], {}, text);
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(text);
    }
  });

  it('passes other kinds through byte for byte', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap # a comment\nmetadata:\n  name: x\ndata: {a: "1"}\n';
    const result = runBundle('lockstep', ['inject', '--explain', '-f', '-'], {}, text);
    expect(result.stdout).toBe(text);
    expect(result.stderr).toBe('no changes\n');
  });

  it('bad input: one error line, exit 1, nothing on stdout', () => {
    const missing = runBundle('lockstep', ['inject', '-f', join(FIXTURES, 'nope.yaml')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read .*nope\.yaml: ENOENT/);
    const bad = runBundle(
      'lockstep',
      ['inject', '-f', '-'],
      {},
      'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\nspec:\n  serviceName: s\n  template: {spec: {containers: [{name: a, image: b, command: [vllm, serve]}]}}\n',
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(
      'error: StatefulSet/s: cannot determine the group size: spec.replicas is not set; a group needs a fixed number of pods\n',
    );
    expect(bad.stdout).toBe('');
  });

  it('usage errors exit 2', () => {
    const noFile = runBundle('lockstep', ['inject']);
    expect(noFile.status).toBe(2);
    expect(noFile.stderr).toBe('error: missing -f, --filename (a manifest file, or - for stdin)\n');
    const quote = runBundle('lockstep', ['inject', '-f', fixture('no-command.yaml'), '--command', '"vllm serve']);
    expect(quote.status).toBe(2);
    expect(quote.stderr).toBe('error: --command: unbalanced " quote in ""vllm serve"\n');
    const engine = runBundle('lockstep', ['inject', '-f', fixture('no-command.yaml'), '--engine', 'tensorflow']);
    expect(engine.status).toBe(2);
  });

  it('exits non-zero on a kind it does not handle, and passes it through with --pass-through', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'inject-pass-')), 'deploy.yaml');
    writeFileSync(
      file,
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n        - name: m\n          image: x\n',
    );
    const refused = runBundle('lockstep', ['inject', '-f', file]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error: Deployment\/d runs pods .* pass --pass-through to leave it unchanged\n$/);
    const passed = runBundle('lockstep', ['inject', '--pass-through', '-f', file]);
    expect(passed.status).toBe(0);
    expect(passed.stdout).toContain('kind: Deployment');
    expect(passed.stderr).toMatch(/^warning: Deployment\/d runs pods .*left unchanged \(--pass-through\)\n$/);
  });
});
