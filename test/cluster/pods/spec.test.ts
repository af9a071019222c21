import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Pod } from '../../../src/kube/types.js';
import {
  ContainerConfigError,
  containerArgv,
  containerEnv,
  isLockstepImage,
  isPythonImage,
  localArgv,
  lockstepPathEnv,
  rewritePaths,
} from './spec.js';

const programs = { node: '/n/node', lockstepBundle: '/r/dist/lockstep.mjs', python: '/usr/bin/python3' };
const pod: Pod = {
  metadata: {
    name: 'web-1',
    namespace: 'ns',
    uid: 'u-1',
    labels: { 'apps.kubernetes.io/pod-index': '1' },
    annotations: { a: 'b' },
  },
  spec: { nodeName: 'node-a', serviceAccountName: 'sa', containers: [{ name: 'c' }] },
};
const mounts = [
  { mountPath: '/var/run/lockstep', realPath: '/pods/p/volumes/run' },
  { mountPath: '/var/run/secrets/lockstep', realPath: '/pods/p/volumes/token' },
];

describe('images stand in for local programs', () => {
  it('maps lockstep and python images and commands, and refuses the rest with the reason', () => {
    expect(isLockstepImage('ghcr.io/lockstep-dev/lockstep:v0.1.0')).toBe(true);
    expect(isPythonImage('python:3.12-slim')).toBe(true);
    expect(isPythonImage('docker.io/library/python@sha256:abc')).toBe(true);
    expect(isLockstepImage('vllm/vllm-openai:v0.11.0')).toBe(false);
    expect(containerArgv({ name: 'c', image: 'ghcr.io/lockstep-dev/lockstep:v1', args: ['coordinator'] })).toEqual([
      'lockstep',
      'coordinator',
    ]);
    const exists = (p: string) => p === '/bin/sh';
    expect(localArgv('x', ['/var/run/lockstep/bin/lockstep', 'run'], programs, exists)).toEqual([
      '/n/node',
      '/r/dist/lockstep.mjs',
      'run',
    ]);
    expect(localArgv('python:3', ['python3.12', 'x.py'], programs, exists)).toEqual(['/usr/bin/python3', 'x.py']);
    expect(localArgv('busybox', ['/bin/sh', '-c', 'true'], programs, exists)).toEqual(['/bin/sh', '-c', 'true']);
    expect(() => localArgv('vllm/vllm-openai:v0.11.0', ['vllm', 'serve'], programs, exists)).toThrow(
      'image vllm/vllm-openai:v0.11.0: command vllm cannot run in the test cluster',
    );
  });
});

describe('container environment', () => {
  it('fills the downward API, expands $(VAR) from earlier entries, and reads ConfigMap/Secret keys', () => {
    const env = containerEnv(
      {
        name: 'c',
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
          { name: 'RANK', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
          { name: 'ADDR', value: '$(POD_NAME).svc.$(NS) $$(POD_NAME) $(LATER)' },
          { name: 'KEY', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
          { name: 'OPT', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } },
          { name: 'LATER', value: 'x' },
        ],
      },
      {
        pod,
        podIP: '127.42.1.10',
        hostIP: '127.0.0.1',
        lookup: (kind, name, key) => (kind === 'configMap' && name === 'cm' && key === 'k' ? 'v' : undefined),
      },
    );
    expect(env).toEqual({
      POD_NAME: 'web-1',
      NS: 'ns',
      UID: 'u-1',
      IP: '127.42.1.10',
      NODE: 'node-a',
      SA: 'sa',
      RANK: '1',
      ADDR: 'web-1.svc.ns $(POD_NAME) $(LATER)',
      KEY: 'v',
      LATER: 'x',
    });
  });

  it('fails a container whose Secret is missing, as CreateContainerConfigError does', () => {
    expect(() =>
      containerEnv(
        { name: 'c', env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'hf-token', key: 'token' } } }] },
        { pod, podIP: '', hostIP: '', lookup: () => undefined },
      ),
    ).toThrow(new ContainerConfigError('secret "hf-token" not found'));
  });
});

describe('mount paths map into the pod directory', () => {
  it('rewrites whole paths, flag values and paths inside scripts; leaves look-alikes alone', () => {
    expect(rewritePaths('/var/run/lockstep/group.env', mounts)).toBe('/pods/p/volumes/run/group.env');
    expect(rewritePaths('--token-file=/var/run/secrets/lockstep/token', mounts)).toBe(
      '--token-file=/pods/p/volumes/token/token',
    );
    expect(rewritePaths('cat /var/run/lockstep/group.env && ls /var/run/lockstep', mounts)).toBe(
      'cat /pods/p/volumes/run/group.env && ls /pods/p/volumes/run',
    );
    expect(rewritePaths('/var/run/lockstepd /x/var/run/lockstep', mounts)).toBe(
      '/var/run/lockstepd /x/var/run/lockstep',
    );
  });

  it('never changes text that mentions no mount path (property)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        fc.pre(!text.includes('/var/run/'));
        expect(rewritePaths(text, mounts)).toBe(text);
      }),
    );
  });

  it('points lockstep’s default file flags at the mounted volumes through their env twins', () => {
    expect(lockstepPathEnv(mounts)).toEqual({
      LOCKSTEP_ENV_FILE: '/pods/p/volumes/run/group.env',
      LOCKSTEP_TOKEN_FILE: '/pods/p/volumes/token/token',
    });
    expect(lockstepPathEnv([])).toEqual({});
  });
});
