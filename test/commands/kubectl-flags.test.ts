/**
 * Every flag of `kubectl lockstep`, parsed in-process through the verbs' run seam (test/support/parse-command.ts):
 * what a verb receives with no flags, each flag given after the verb, before it (kubectl takes its global flags on
 * either side), from its LOCKSTEP_ twin and from kubectl's own variable, and bad values refused as usage errors
 * (exit 2, one `error:` line) before any cluster is read.
 */
import { describe, expect, it } from 'vitest';
import { parseOutput, parseSortBy } from '../../src/kubectl/render/output.js';
import { expectUsageError, parseKubectl, verbCallOf } from '../support/parse-command.js';

/** What every verb receives with no flags at all: defaulted flags present, the others absent. */
const DEFAULTS = {
  allNamespaces: false,
  output: { format: 'table' },
  headers: true,
  watch: false,
  driverName: 'lockstep.dev',
};

const VERBS: [string, string[]][] = [
  ['nodes', []],
  ['devices', []],
  ['devices', ['h100-a']],
  ['topo', ['h100-a']],
  ['groups', []],
  ['group', ['vllm-0']],
  ['pods', []],
  ['check', []],
];

describe('defaults: what each verb receives with no flags', () => {
  it.each(VERBS)('%s %j', async (verb, args) => {
    const call = await verbCallOf([verb, ...args]);
    expect(call).toEqual({ verb, ...(args[0] ? { arg: args[0] } : {}), flags: DEFAULTS });
  });
});

// each row: the long flag, its value on the command line, the key and parsed value, kubectl's own variable
type Row = [string, string, string, unknown, string?];
const VALUES: Row[] = [
  ['--namespace', 'inference', 'namespace', 'inference'],
  ['--context', 'lab', 'context', 'lab'],
  ['--kubeconfig', '/etc/kube/config', 'kubeconfig', '/etc/kube/config', 'KUBECONFIG'],
  ['--server', 'https://10.0.0.1:6443', 'server', 'https://10.0.0.1:6443'],
  ['--token', 'sha256~abc', 'token', 'sha256~abc'],
  ['--as', 'alice', 'as', 'alice'],
  ['--request-timeout', '0', 'requestTimeout', 0],
  ['--request-timeout', '30', 'requestTimeout', 30_000],
  ['--request-timeout', '1m30s', 'requestTimeout', 90_000],
  ['--request-timeout', '500ms', 'requestTimeout', 500],
  ['--selector', 'app=vllm,tier!=cache', 'selector', 'app=vllm,tier!=cache'],
  ['--output', 'json', 'output', { format: 'json' }],
  ['--output', 'wide', 'output', { format: 'wide' }],
  ['--output', 'jsonpath={.items[*].node}', 'output', parseOutput('jsonpath={.items[*].node}')],
  ['--output', 'custom-columns=NODE:.node', 'output', parseOutput('custom-columns=NODE:.node')],
  ['--sort-by', '{.health}', 'sortBy', parseSortBy('{.health}')],
  ['--driver-name', 'gpu.example.com', 'driverName', 'gpu.example.com'],
];

const twin = (flag: string) => `LOCKSTEP_${flag.slice(2).replace(/-/g, '_').toUpperCase()}`;
const flagsOf = async (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  (await verbCallOf(argv, env)).flags as Record<string, unknown>;

describe('each flag: after the verb, before it, its env twin and kubectl’s variable give the same value', () => {
  it.each(VALUES)('%s %s', async (flag, value, key, want, alias) => {
    expect((await flagsOf(['nodes', flag, value]))[key]).toEqual(want);
    expect((await flagsOf([flag, value, 'nodes']))[key]).toEqual(want);
    expect((await flagsOf([`${flag}=${value}`, 'groups']))[key]).toEqual(want);
    expect((await flagsOf(['nodes'], { [twin(flag)]: value }))[key]).toEqual(want);
    if (alias) expect((await flagsOf(['nodes'], { [alias]: value }))[key]).toEqual(want);
  });

  it.each([
    ['-n', 'ml', 'namespace', 'ml'],
    ['-s', 'https://api:6443', 'server', 'https://api:6443'],
    ['-l', 'app=vllm', 'selector', 'app=vllm'],
    ['-o', 'yaml', 'output', { format: 'yaml' }],
  ])('short %s', async (flag, value, key, want) => {
    expect((await flagsOf(['pods', flag, value]))[key]).toEqual(want);
    expect((await flagsOf([flag, value, 'pods']))[key]).toEqual(want);
  });

  it('-o reads kubectl’s spellings: -o=json, -ojson, --output=name', async () => {
    expect((await flagsOf(['nodes', '-o=json'])).output).toEqual({ format: 'json' });
    expect((await flagsOf(['nodes', '-ojson'])).output).toEqual({ format: 'json' });
    expect((await flagsOf(['nodes', '--output=name'])).output).toEqual({ format: 'name' });
  });

  it('--as-group repeats and has no env twin', async () => {
    expect((await flagsOf(['nodes', '--as-group', 'a', '--as-group', 'b'])).asGroup).toEqual(['a', 'b']);
    expect((await flagsOf(['--as-group', 'system:masters', 'nodes'])).asGroup).toEqual(['system:masters']);
    expect((await flagsOf(['nodes'], { LOCKSTEP_AS_GROUP: 'a' })).asGroup).toBeUndefined();
  });

  it.each([
    ['-A', 'allNamespaces', true],
    ['--all-namespaces', 'allNamespaces', true],
    ['--no-headers', 'headers', false],
    ['-w', 'watch', true],
    ['--watch', 'watch', true],
  ] as const)('switch %s', async (flag, key, want) => {
    expect((await flagsOf(['groups', flag]))[key]).toBe(want);
    expect((await flagsOf([flag, 'groups']))[key]).toBe(want);
    if (flag.startsWith('--')) expect((await flagsOf(['groups'], { [twin(flag)]: '1' }))[key]).toBe(want);
  });

  it('after the verb beats before it; the command line beats the twin; the twin beats KUBECONFIG', async () => {
    expect((await flagsOf(['-n', 'a', 'nodes', '-n', 'b'])).namespace).toBe('b');
    expect((await flagsOf(['-n', 'a', 'nodes'], { LOCKSTEP_NAMESPACE: 'env' })).namespace).toBe('a');
    expect((await flagsOf(['nodes'], { LOCKSTEP_NAMESPACE: 'env' })).namespace).toBe('env');
    const env = { LOCKSTEP_KUBECONFIG: '/twin', KUBECONFIG: '/kubectl' };
    expect((await flagsOf(['nodes'], env)).kubeconfig).toBe('/twin');
    expect((await flagsOf(['nodes', '--kubeconfig', '/cli'], env)).kubeconfig).toBe('/cli');
  });
});

describe('bad values are usage errors: exit 2, one error line naming the flag, no verb run', () => {
  it.each([
    [['nodes', '-o', 'xml'], {}, /--output.*unable to match a printer suitable for the output format "xml"/],
    [['-o', 'xml', 'nodes'], {}, /--output.*unable to match a printer/],
    [['nodes', '-o', 'jsonpath='], {}, /--output.*needs a template/],
    [['nodes', '-o', 'custom-columns=NODE'], {}, /--output.*"NODE" is not HEADER:PATH/],
    [['nodes', '--sort-by', '.a['], {}, /--sort-by.*unclosed \[ at position 2/],
    [['nodes', '--request-timeout', 'soon'], {}, /--request-timeout.*"soon" is not a duration/],
    [['nodes', '--request-timeout', '-1s'], {}, /--request-timeout.*not a duration/],
    [['nodes', '--request-timeout', '1000h'], {}, /--request-timeout.*out of range: 0s, at most/],
    [['nodes'], { LOCKSTEP_OUTPUT: 'xml' }, /LOCKSTEP_OUTPUT.*unable to match a printer/],
    [['nodes'], { LOCKSTEP_REQUEST_TIMEOUT: 'x' }, /LOCKSTEP_REQUEST_TIMEOUT.*not a duration/],
    [['nodes', '--bogus'], {}, /unknown option '--bogus'/],
    [['topo'], {}, /missing required argument 'node'/],
    [['nodes', '-n'], {}, /option '-n, --namespace <ns>' argument missing/],
  ] as const)('%j %j', async (argv, env, message) => {
    expectUsageError(await parseKubectl(argv, env), message);
  });
});

describe('--help lists every flag with its env twin, before and after the verb', () => {
  it.each([[[]], [['nodes']], [['topo']]] as const)('%j', async (before) => {
    const r = await parseKubectl([...before, '--help']);
    expect(r.status).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const [flag] of VALUES) expect(help, flag).toContain(`env: ${twin(flag)}`);
    for (const flag of ['--all-namespaces', '--no-headers', '--watch']) expect(help).toContain(`env: ${twin(flag)}`);
    expect(help).toContain('--as-group <group> impersonate this group (repeatable)');
    expect(help).toContain('(default: table, env: LOCKSTEP_OUTPUT)');
    expect(help).toContain('(default: "lockstep.dev", env: LOCKSTEP_DRIVER_NAME)');
  });
});
