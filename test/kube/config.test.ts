import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, toCliError } from '../../src/cli/errors.js';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from '../../src/kube/config.js';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));

function kubeconfig(name: string, contexts: { name: string; server: string }[], current: string): string {
  const path = join(dir, name);
  const yaml = [
    'apiVersion: v1',
    'kind: Config',
    `current-context: ${current}`,
    'clusters:',
    ...contexts.flatMap((c) => [`- name: ${c.name}`, '  cluster:', `    server: ${c.server}`]),
    'users:',
    '- name: u',
    '  user:',
    '    token: abc',
    'contexts:',
    ...contexts.flatMap((c) => [`- name: ${c.name}`, '  context:', `    cluster: ${c.name}`, '    user: u']),
  ].join('\n');
  writeFileSync(path, yaml);
  return path;
}

const two = kubeconfig(
  'two.yaml',
  [
    { name: 'a', server: 'https://127.0.0.2:6443' },
    { name: 'b', server: 'https://127.0.0.3:6443' },
  ],
  'a',
);

function cliError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (thrown) {
    const err = toCliError(thrown);
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('loadKubeConfig', () => {
  it('loads an explicit file and switches context on request', () => {
    expect(loadKubeConfig({ kubeconfig: two, env: {} }).getCurrentCluster()?.server).toBe('https://127.0.0.2:6443');
    expect(loadKubeConfig({ kubeconfig: two, context: 'b', env: {} }).getCurrentCluster()?.server).toBe(
      'https://127.0.0.3:6443',
    );
  });

  it('takes $KUBECONFIG, a list of files merged with the first current-context winning', () => {
    const other = kubeconfig('other.yaml', [{ name: 'c', server: 'https://127.0.0.4:6443' }], 'c');
    const kc = loadKubeConfig({ env: { KUBECONFIG: `${join(dir, 'missing.yaml')}:${two}:${other}` } });
    expect(kc.getCurrentContext()).toBe('a');
    expect(kc.getContexts().map((c) => c.name)).toEqual(['a', 'b', 'c']);
  });

  it('uses the in-cluster service account inside a pod', () => {
    const root = mkdtempSync(join(tmpdir(), 'sa-'));
    mkdirSync(join(root, SERVICE_ACCOUNT_DIR), { recursive: true });
    writeFileSync(join(root, SERVICE_ACCOUNT_DIR, 'token'), 'tok');
    writeFileSync(join(root, SERVICE_ACCOUNT_DIR, 'ca.crt'), '');
    writeFileSync(join(root, SERVICE_ACCOUNT_DIR, 'namespace'), 'lockstep-system');
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, inClusterRoot: root });
      expect(kc.getCurrentCluster()?.server).toBe('https://10.0.0.1:443');
    } finally {
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      else process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });

  it('says precisely what is wrong', () => {
    expect(cliError(() => loadKubeConfig({ kubeconfig: join(dir, 'nope.yaml'), env: {} })).message).toBe(
      `kubeconfig ${join(dir, 'nope.yaml')} does not exist`,
    );
    expect(cliError(() => loadKubeConfig({ kubeconfig: two, context: 'zzz', env: {} })).message).toBe(
      'context "zzz" is not in the kubeconfig',
    );
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'clusters: [ {');
    expect(cliError(() => loadKubeConfig({ kubeconfig: bad, env: {} })).message).toMatch(
      /^kubeconfig .*bad.yaml is not valid/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'home-'));
    const none = cliError(() => loadKubeConfig({ env: { HOME: empty } }));
    expect(none.message).toMatch(/^no Kubernetes configuration/);
    expect(none.exitCode).toBe(1);
  });
});
