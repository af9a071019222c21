/**
 * Paths users hand the programs — kubeconfigs (`--kubeconfig`, $KUBECONFIG, ~/.kube/config) and the group
 * environment file (`--env-file`) — each fail with one `error:` line of their own and a documented exit code when
 * they are a directory, a special file, not readable or behind a non-directory, instead of being taken for absent
 * or failing deep inside a parser. Run through the real bundles, as users run them.
 *
 * "Not readable" needs a process that permissions apply to: as root (CI) the program runs without the capabilities
 * that let root ignore file modes (setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so the modes apply to it as
 * the files' owner. Running it as another user instead would fail for the wrong reason wherever the checkout itself is
 * private to root (a fresh clone under a 0700 `mktemp -d`).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { bundlePath } from '../support/build.js';
import { runBundle } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'lockstep-paths-'));
chmodSync(root, 0o755);
afterAll(() => {
  spawnSync('rm', ['-rf', root]);
});

const aDirectory = join(root, 'a-dir');
mkdirSync(aDirectory);
const aFifo = join(root, 'a-fifo');
spawnSync('mkfifo', [aFifo]);
const aFile = join(root, 'plain');
writeFileSync(aFile, 'x');
const secret = join(root, 'secret');
writeFileSync(secret, 'apiVersion: v1\nkind: Config\n');
chmodSync(secret, 0o000);

/** Runs a bundle so that file permissions apply to it (as root: without the capabilities that bypass them). */
function runAsUser(name: 'lockstep' | 'kubectl-lockstep', args: string[]) {
  const bundle = bundlePath(name);
  const command = [process.execPath, '--', bundle, ...args];
  const asRoot = process.getuid?.() === 0;
  const argv = asRoot ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--', ...command] : command;
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: root },
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe('kubeconfig paths (exit 1, as every kubeconfig problem)', () => {
  const cases: { name: string; path: string; message: string }[] = [
    { name: 'a directory', path: aDirectory, message: `kubeconfig ${aDirectory} is a directory, not a file` },
    {
      name: 'a FIFO (never opened: a read would block)',
      path: aFifo,
      message: `kubeconfig ${aFifo} is a FIFO, not a file`,
    },
    {
      name: 'a path through a file',
      path: join(aFile, 'config'),
      message: `kubeconfig ${join(aFile, 'config')} cannot be reached (a part of the path is not a directory)`,
    },
    { name: 'missing', path: join(root, 'nope'), message: `kubeconfig ${join(root, 'nope')} does not exist` },
  ];
  for (const c of cases) {
    it(`--kubeconfig that is ${c.name}: kubectl lockstep says so`, () => {
      const r = runBundle('kubectl-lockstep', ['nodes', '--kubeconfig', c.path]);
      expect(r.stderr).toBe(`error: ${c.message}\n`);
      expect(r.status).toBe(EXIT.failed);
    });
  }

  it('$KUBECONFIG naming a directory among missing files is an error, not skipped like the missing ones', () => {
    const r = runBundle('kubectl-lockstep', ['nodes'], { KUBECONFIG: `${join(root, 'gone')}:${aDirectory}` });
    expect(r.stderr).toBe(`error: kubeconfig ${aDirectory} is a directory, not a file\n`);
    expect(r.status).toBe(EXIT.failed);
  });

  it('~/.kube/config that is a directory is not "no Kubernetes configuration"', () => {
    const home = join(root, 'home');
    mkdirSync(join(home, '.kube', 'config'), { recursive: true });
    const r = runBundle('kubectl-lockstep', ['nodes'], { HOME: home });
    expect(r.stderr).toBe(`error: kubeconfig ${join(home, '.kube', 'config')} is a directory, not a file\n`);
    expect(r.status).toBe(EXIT.failed);
  });

  it('an unreadable kubeconfig says permission denied (agent and kubectl lockstep)', () => {
    for (const [bundle, args] of [
      ['kubectl-lockstep', ['nodes', '--kubeconfig', secret]],
      ['lockstep', ['agent', '--node-name', 'n1', '--kubeconfig', secret]],
    ] as const) {
      const r = runAsUser(bundle, [...args]);
      expect(r.stderr).toBe(`error: kubeconfig ${secret} cannot be read (permission denied)\n`);
      expect(r.status).toBe(EXIT.failed);
    }
  });
});

describe('--env-file paths of bootstrap and run (exit 2, a bad flag value, checked before joining)', () => {
  const join0 = ['--leader-address', '127.0.0.1', '--coordinator-port', '1', '--pod-name', 'web-0', '--timeout', '1s'];
  const envDir = join(root, 'env-dir');
  mkdirSync(join(envDir, 'group.env.json'), { recursive: true });
  const readOnly = join(root, 'read-only');
  mkdirSync(readOnly, { mode: 0o555 });
  chmodSync(readOnly, 0o555);
  const cases: { name: string; envFile: string; message: string; asUser?: boolean }[] = [
    { name: 'a directory', envFile: aDirectory, message: `--env-file ${aDirectory} is a directory, not a file` },
    {
      name: 'a file whose JSON twin is a directory',
      envFile: join(envDir, 'group.env'),
      message: `--env-file ${join(envDir, 'group.env')}: its JSON twin ${join(envDir, 'group.env.json')} is a directory, not a file`,
    },
    { name: 'a FIFO', envFile: aFifo, message: `--env-file ${aFifo} is a FIFO, not a file` },
    {
      name: 'under a file',
      envFile: join(aFile, 'sub', 'group.env'),
      message: `--env-file ${join(aFile, 'sub', 'group.env')} cannot be reached (a part of the path is not a directory)`,
    },
    {
      name: 'not readable',
      envFile: secret,
      message: `--env-file ${secret} cannot be read (permission denied)`,
      asUser: true,
    },
    {
      name: 'in a directory that cannot be written',
      envFile: join(readOnly, 'more', 'group.env'),
      message: `--env-file ${join(readOnly, 'more', 'group.env')}: cannot write in ${readOnly} (permission denied)`,
      asUser: true,
    },
  ];
  for (const verb of ['bootstrap', 'run'] as const) {
    for (const c of cases) {
      it(`${verb} --env-file ${c.name}`, () => {
        const args = [verb, ...join0, '--env-file', c.envFile, ...(verb === 'run' ? ['--', 'true'] : [])];
        const r = c.asUser ? runAsUser('lockstep', args) : runBundle('lockstep', args);
        expect(r.stderr).toBe(`error: ${c.message}\n`);
        expect(r.status).toBe(EXIT.usage);
      });
    }
  }
});

describe('node itself never sees lockstep’s --env-file', () => {
  it('the bundle run through its #! line reaches lockstep with a --env-file that does not exist yet', () => {
    // node checks every --env-file on its command line, script arguments included, and exits 9 ("node: …: not
    // found") for a missing one; the #! line ends node's options with `--`
    const missing = join(root, 'not-yet', 'group.env');
    const r = spawnSync(bundlePath('lockstep'), ['bootstrap', '--env-file', missing, '--timeout', 'soon'], {
      encoding: 'utf8',
      env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: root },
      timeout: 60_000,
    });
    expect(r.stderr).toContain('"soon" is not a duration');
    expect(r.status).toBe(EXIT.usage);
  });
});
