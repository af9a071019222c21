/**
 * Every command's flags, parsed in-process through the commands' run seam (test/support/parse-command.ts): the
 * defaults each command body receives, each flag from the command line, from its LOCKSTEP_ twin and from its
 * Kubernetes alias variable, and bad values refused as usage errors (exit 2, one `error:` line).
 */
import { describe, expect, it } from 'vitest';
import { callOf, expectUsageError, flagsOf, parseLockstep } from '../support/parse-command.js';

/** What each command receives with no flags at all: defaulted flags present, the others absent. */
const DEFAULTS = {
  agent: {
    driverName: 'lockstep.dev',
    sysfsRoot: '/sys',
    devRoot: '/dev',
    nvidiaSmi: 'nvidia-smi',
    driverRoot: '/',
    nvidiaSmiTimeout: 10_000,
    kmsg: '/dev/kmsg',
    pluginRegistryDir: '/var/lib/kubelet/plugins_registry',
    pluginDir: '/var/lib/kubelet/plugins/lockstep.dev',
    cdiDir: '/var/run/cdi',
    procRoot: '/proc',
    stateDir: '/var/lib/kubelet/plugins/lockstep.dev',
    rescanInterval: 60_000,
    deviceTypes: ['gpu', 'tpu', 'nic'],
    udevDir: '/run/udev/data',
    healthInterval: 30_000,
    httpAddress: ':8080',
    taintEffect: 'NoSchedule',
    deviceTaints: 'auto',
    linkStableTime: 10_000,
    leaseNamespace: 'lockstep-system',
    leaseDuration: 40_000,
    numaNodeList: false,
    uninstall: false,
    logLevel: 'info',
  },
  coordinator: {
    listen: '0.0.0.0:7470',
    masterPort: 29_500,
    heartbeatTimeout: 2000,
    runAttachTimeout: 600_000,
    recovery: 'InPlace',
    restartBudget: 5,
    restartWindow: 600_000,
    backoffInitial: 1000,
    backoffMax: 60_000,
    tokenAudience: 'lockstep',
    authenticate: 'token-review',
    logLevel: 'info',
  },
  bootstrap: {
    coordinatorPort: 7470,
    tokenFile: '/var/run/secrets/lockstep/token',
    envFile: '/var/run/lockstep/group.env',
    progressInterval: 5000,
    timeout: 600_000,
    installLauncher: true,
    logLevel: 'info',
  },
  run: {
    coordinatorPort: 7470,
    tokenFile: '/var/run/secrets/lockstep/token',
    envFile: '/var/run/lockstep/group.env',
    progressInterval: 5000,
    timeout: 600_000,
    engine: 'auto',
    shell: false,
    gracePeriod: 30_000,
    health: 'auto',
    healthPeriod: 5000,
    healthFailures: 3,
    healthStartGrace: 600_000,
    healthTimeout: 2000,
    warm: true,
    probeStartGrace: 0,
    logLevel: 'info',
  },
  discover: {
    output: 'table',
    sysfsRoot: '/sys',
    devRoot: '/dev',
    nvidiaSmi: 'nvidia-smi',
    nvidiaSmiTimeout: 10_000,
    all: false,
    slices: false,
    strict: false,
    logLevel: 'warn',
  },
  inject: {
    image: 'ghcr.io/lockstep-dev/lockstep:v0.1.0-dev',
    maxInputSize: 16 * 1024 * 1024,
    keepRestartPolicy: false,
    passThrough: false,
    explain: false,
    logLevel: 'warn',
  },
} as const;

type Command = keyof typeof DEFAULTS;

/** The words a command needs besides flags (`run` needs the engine command). */
const TAIL: Record<Command, string[]> = {
  agent: [],
  coordinator: [],
  bootstrap: [],
  run: ['--', 'python3', 'serve.py'],
  discover: [],
  inject: [],
};

describe('defaults: what each command body receives with no flags', () => {
  it.each(Object.keys(DEFAULTS) as Command[])('%s', async (command) => {
    expect(await flagsOf(command, TAIL[command])).toEqual(DEFAULTS[command]);
  });
});

// each row: command, flag, value on the command line, the key and parsed value, the Kubernetes alias variable
type Row = [Command, string, string, string, unknown, string?];
const VALUES: Row[] = [
  ['agent', '--node-name', 'gpu-node-1', 'nodeName', 'gpu-node-1', 'NODE_NAME'],
  ['agent', '--pod-uid', '0d5b6c1e', 'podUid', '0d5b6c1e', 'POD_UID'],
  ['agent', '--driver-name', 'gpu.example.com', 'driverName', 'gpu.example.com'],
  ['agent', '--kubeconfig', '/etc/kube/config', 'kubeconfig', '/etc/kube/config', 'KUBECONFIG'],
  ['agent', '--context', 'lab', 'context', 'lab'],
  ['agent', '--sysfs-root', '/host/sys', 'sysfsRoot', '/host/sys'],
  ['agent', '--dev-root', '/host/dev', 'devRoot', '/host/dev'],
  ['agent', '--nvidia-smi', '/usr/bin/nvidia-smi', 'nvidiaSmi', '/usr/bin/nvidia-smi'],
  ['agent', '--driver-root', '/run/nvidia/driver', 'driverRoot', '/run/nvidia/driver'],
  ['agent', '--nvidia-smi-timeout', '1m30s', 'nvidiaSmiTimeout', 90_000],
  ['agent', '--kmsg', '/tmp/kmsg', 'kmsg', '/tmp/kmsg'],
  ['agent', '--plugin-registry-dir', '/k/r', 'pluginRegistryDir', '/k/r'],
  ['agent', '--plugin-dir', '/k/p', 'pluginDir', '/k/p'],
  ['agent', '--cdi-dir', '/etc/cdi', 'cdiDir', '/etc/cdi'],
  ['agent', '--proc-root', '/host/proc', 'procRoot', '/host/proc'],
  ['agent', '--state-dir', '/var/lib/lockstep', 'stateDir', '/var/lib/lockstep'],
  ['agent', '--rescan-interval', '5m', 'rescanInterval', 300_000],
  ['agent', '--device-types', 'gpu', 'deviceTypes', ['gpu']],
  ['agent', '--nic-exclude', '0000:1a:00.0', 'nicExclude', [{ kind: 'pci', address: '0000:1a:00.0' }]],
  ['agent', '--udev-dir', '/run/udev2', 'udevDir', '/run/udev2'],
  ['agent', '--health-interval', '10s', 'healthInterval', 10_000],
  ['agent', '--http-address', '127.0.0.1:9090', 'httpAddress', '127.0.0.1:9090'],
  ['agent', '--taint-effect', 'NoExecute', 'taintEffect', 'NoExecute'],
  ['agent', '--device-taints', 'off', 'deviceTaints', 'off'],
  ['agent', '--link-stable-time', '0s', 'linkStableTime', 0],
  ['agent', '--xid-ignore', '13,31', 'xidIgnore', [13, 31]],
  ['agent', '--lease-namespace', 'kube-system', 'leaseNamespace', 'kube-system', 'POD_NAMESPACE'],
  ['agent', '--lease-duration', '15s', 'leaseDuration', 15_000],
  ['agent', '--log-level', 'debug', 'logLevel', 'debug'],
  ['coordinator', '--group', 'vllm-0', 'group', 'vllm-0'],
  ['coordinator', '--group-size', '16', 'groupSize', 16, 'LWS_GROUP_SIZE'],
  ['coordinator', '--namespace', 'inference', 'namespace', 'inference', 'POD_NAMESPACE'],
  ['coordinator', '--pod-name', 'vllm-0', 'podName', 'vllm-0', 'POD_NAME'],
  ['coordinator', '--only-rank', '0', 'onlyRank', 0],
  ['coordinator', '--listen', '[::1]:7471', 'listen', '[::1]:7471'],
  ['coordinator', '--metrics-address', ':9400', 'metricsAddress', ':9400'],
  ['coordinator', '--master-port', '29501', 'masterPort', 29_501],
  ['coordinator', '--heartbeat-timeout', '500ms', 'heartbeatTimeout', 500],
  ['coordinator', '--run-attach-timeout', '0s', 'runAttachTimeout', 0],
  ['coordinator', '--recovery', 'RecreateGroup', 'recovery', 'RecreateGroup'],
  ['coordinator', '--restart-budget', '0', 'restartBudget', 0],
  ['coordinator', '--restart-window', '1h', 'restartWindow', 3_600_000],
  ['coordinator', '--backoff-initial', '2s', 'backoffInitial', 2000],
  ['coordinator', '--backoff-max', '5m', 'backoffMax', 300_000],
  ['coordinator', '--token-audience', 'group-a', 'tokenAudience', 'group-a'],
  ['coordinator', '--authenticate', 'none', 'authenticate', 'none'],
  ['coordinator', '--tls-cert', '/tls/tls.crt', 'tlsCert', '/tls/tls.crt'],
  ['coordinator', '--tls-key', '/tls/tls.key', 'tlsKey', '/tls/tls.key'],
  ['bootstrap', '--leader-address', 'vllm-0.vllm', 'leaderAddress', 'vllm-0.vllm', 'LWS_LEADER_ADDRESS'],
  ['bootstrap', '--coordinator-port', '7471', 'coordinatorPort', 7471],
  ['bootstrap', '--group-size', '4', 'groupSize', 4, 'LWS_GROUP_SIZE'],
  ['bootstrap', '--rank', '3', 'rank', 3, 'LWS_WORKER_INDEX'],
  ['bootstrap', '--pod-name', 'vllm-0-1', 'podName', 'vllm-0-1', 'POD_NAME'],
  ['bootstrap', '--pod-ip', '10.0.0.7', 'podIp', '10.0.0.7', 'POD_IP'],
  ['bootstrap', '--node-name', 'n1', 'nodeName', 'n1', 'NODE_NAME'],
  ['bootstrap', '--namespace', 'inference', 'namespace', 'inference', 'POD_NAMESPACE'],
  ['bootstrap', '--token-file', '/t/token', 'tokenFile', '/t/token'],
  ['bootstrap', '--env-file', '/r/group.env', 'envFile', '/r/group.env'],
  ['bootstrap', '--group', 'vllm-0', 'group', 'vllm-0'],
  ['bootstrap', '--devices', '0,1', 'devices', '0,1'],
  ['bootstrap', '--tls-ca', '/ca/ca.crt', 'tlsCa', '/ca/ca.crt'],
  ['bootstrap', '--progress-interval', '1s', 'progressInterval', 1000],
  ['bootstrap', '--timeout', '30m', 'timeout', 1_800_000],
  ['bootstrap', '--install-launcher', 'false', 'installLauncher', false],
  ['run', '--engine', 'vllm', 'engine', 'vllm'],
  ['run', '--grace-period', '1m', 'gracePeriod', 60_000],
  ['run', '--health', 'tcp:8000', 'health', 'tcp:8000'],
  ['run', '--health-period', '10s', 'healthPeriod', 10_000],
  ['run', '--health-failures', '5', 'healthFailures', 5],
  ['run', '--health-start-grace', '20m', 'healthStartGrace', 1_200_000],
  ['run', '--health-timeout', '1s', 'healthTimeout', 1000],
  ['run', '--warm-import', 'torch,numpy', 'warmImport', 'torch,numpy'],
  ['run', '--probe-port', '8081', 'probePort', 8081],
  ['run', '--liveness-probe', '{"tcpSocket":{"port":8000}}', 'livenessProbe', '{"tcpSocket":{"port":8000}}'],
  ['run', '--startup-probe', '{"tcpSocket":{"port":8000}}', 'startupProbe', '{"tcpSocket":{"port":8000}}'],
  ['run', '--probe-start-grace', '2m', 'probeStartGrace', 120_000],
  ['discover', '--output', 'json', 'output', 'json'],
  ['discover', '--nvidia-smi-timeout', '3s', 'nvidiaSmiTimeout', 3000],
  ['discover', '--node-name', 'n1', 'nodeName', 'n1', 'NODE_NAME'],
  ['inject', '--filename', 'lws.yaml', 'filename', 'lws.yaml'],
  ['inject', '--image', 'registry.local/lockstep:dev', 'image', 'registry.local/lockstep:dev'],
  ['inject', '--engine', 'sglang', 'engine', 'sglang'],
  ['inject', '--command', 'worker=python3 w.py', 'command', ['worker=python3 w.py']],
  ['inject', '--topology-key', 'topology.kubernetes.io/zone', 'topologyKey', 'topology.kubernetes.io/zone'],
  ['inject', '--max-input-size', '1Mi', 'maxInputSize', 1024 * 1024],
  ['inject', '--tls-secret', 'group-tls', 'tlsSecret', 'group-tls'],
  ['inject', '--gpu-claims', 'nic', 'gpuClaims', 'nic'],
  ['inject', '--gang-api-version', 'v1beta1', 'gangApiVersion', 'v1beta1'],
  ['inject', '--kubeconfig', '/k', 'kubeconfig', '/k', 'KUBECONFIG'],
];

const twin = (flag: string) => `LOCKSTEP_${flag.slice(2).replace(/-/g, '_').toUpperCase()}`;

describe('each flag: command line, env twin and alias variable give the same value', () => {
  it.each(VALUES)('%s %s %s', async (command, flag, value, key, want, alias) => {
    const fromCli = await flagsOf(command, [flag, value, ...TAIL[command]]);
    expect((fromCli as Record<string, unknown>)[key]).toEqual(want);
    const fromTwin = await flagsOf(command, TAIL[command], { [twin(flag)]: value });
    expect((fromTwin as Record<string, unknown>)[key]).toEqual(want);
    if (alias) {
      const fromAlias = await flagsOf(command, TAIL[command], { [alias]: value });
      expect((fromAlias as Record<string, unknown>)[key]).toEqual(want);
    }
  });

  // switches: given on the command line, or their twin set
  it.each([
    ['agent', '--uninstall', 'uninstall', true],
    ['agent', '--numa-node-list', 'numaNodeList', true],
    ['run', '--shell', 'shell', true],
    ['run', '--no-warm', 'warm', false],
    ['run', '--cold', 'cold', true],
    ['discover', '--all', 'all', true],
    ['discover', '--slices', 'slices', true],
    ['discover', '--strict', 'strict', true],
    ['inject', '--keep-restart-policy', 'keepRestartPolicy', true],
    ['inject', '--pass-through', 'passThrough', true],
    ['inject', '--explain', 'explain', true],
    ['inject', '--gang', 'gang', true],
    ['inject', '--no-gang', 'gang', false],
  ] as const)('%s %s', async (command, flag, key, want) => {
    expect(((await flagsOf(command, [flag, ...TAIL[command]])) as Record<string, unknown>)[key]).toBe(want);
    const fromTwin = await flagsOf(command, TAIL[command], { [twin(flag)]: '1' });
    expect((fromTwin as Record<string, unknown>)[key]).toBe(want);
  });

  it('the command line beats the twin, and the twin beats the alias variable', async () => {
    const env = { LOCKSTEP_GROUP_SIZE: '8', LWS_GROUP_SIZE: '4' };
    expect((await flagsOf('coordinator', [], env)).groupSize).toBe(8);
    expect((await flagsOf('coordinator', ['--group-size', '2'], env)).groupSize).toBe(2);
    expect((await flagsOf('coordinator', [], { LWS_GROUP_SIZE: '4' })).groupSize).toBe(4);
  });

  it('run gets the engine command and whether --rank came from the command line', async () => {
    const call = await callOf('run', ['--rank', '1', '--', 'vllm', 'serve', '--tp', '8']);
    expect(call.command).toEqual(['vllm', 'serve', '--tp', '8']);
    expect(call.rankFromCli).toBe(true);
    const fromEnv = await callOf('run', ['--', 'true'], { LWS_WORKER_INDEX: '1' });
    expect(fromEnv.flags.rank).toBe(1);
    expect(fromEnv.rankFromCli).toBe(false);
    expect((await callOf('bootstrap', ['--rank', '2'])).rankFromCli).toBe(true);
  });
});

describe('bad values are usage errors: exit 2, one error line naming the flag', () => {
  it.each([
    ['agent', ['--nvidia-smi-timeout', '10'], {}, /--nvidia-smi-timeout.*give a unit/],
    ['agent', ['--lease-duration', '1s'], {}, /--lease-duration.*out of range: at least 2s/],
    ['agent', ['--link-stable-time', '-1s'], {}, /--link-stable-time.*not a duration/],
    ['agent', ['--taint-effect', 'Never'], {}, /--taint-effect.*Allowed choices are NoSchedule, NoExecute, None/],
    ['agent', ['--device-types', 'fpga'], {}, /--device-types.*not a list of device types/],
    ['agent', ['--xid-ignore', '13,x'], {}, /--xid-ignore.*not a comma-separated list of XID numbers/],
    ['agent', ['--http-address', '8080'], {}, /--http-address.*not a listen address/],
    ['agent', [], { LOCKSTEP_RESCAN_INTERVAL: '0s' }, /LOCKSTEP_RESCAN_INTERVAL.*out of range: more than 0/],
    ['coordinator', ['--restart-budget', '-1'], {}, /--restart-budget.*not a restart count/],
    ['coordinator', ['--master-port', '70000'], {}, /--master-port.*out of range: a TCP port 1-65535/],
    ['coordinator', ['--only-rank', '65536'], {}, /--only-rank.*out of range: a rank 0-65535/],
    ['coordinator', ['--authenticate', 'maybe'], {}, /--authenticate.*Allowed choices/],
    ['coordinator', [], { POD_NAMESPACE: 'x', LWS_GROUP_SIZE: '0' }, /LWS_GROUP_SIZE.*out of range: a group size/],
    ['bootstrap', ['--install-launcher', 'perhaps'], {}, /--install-launcher.*expected true or false/],
    ['bootstrap', ['--timeout', '25d'], {}, /--timeout.*not a duration/],
    ['bootstrap', [], { LOCKSTEP_COORDINATOR_PORT: 'http' }, /LOCKSTEP_COORDINATOR_PORT.*not a TCP port/],
    ['run', ['--health-failures', '0', '--', 'true'], {}, /--health-failures.*out of range: a positive integer/],
    ['run', ['--engine', 'tensorrt', '--', 'true'], {}, /--engine.*Allowed choices/],
    ['run', ['--probe-port', '0', '--', 'true'], {}, /--probe-port.*out of range: a TCP port/],
    ['discover', ['-o', 'xml'], {}, /--output.*Allowed choices are table, json, yaml/],
    ['inject', ['--max-input-size', '1Ti'], {}, /--max-input-size.*not a size/],
    ['inject', ['--tls-secret', 'Bad_Name'], {}, /--tls-secret.*must be a Secret name/],
    ['inject', ['--topology-key', 'a/b/c'], {}, /--topology-key.*not a label key/],
    ['inject', ['--gpu-claims=tpus'], {}, /--gpu-claims.*Allowed choices are gpus, nic/],
    ['inject', ['--command', ''], {}, /--command.*must not be empty/],
  ] as const)('%s %j %j', async (command, argv, env, message) => {
    expectUsageError(await parseLockstep([command, ...argv], env), message);
  });
});

describe('--help shows every default in the flag’s own grammar, with its env twin', () => {
  it.each(Object.keys(DEFAULTS) as Command[])('%s', async (command) => {
    const help = (await parseLockstep([command, '--help'])).stdout.replace(/\s+/g, ' ');
    for (const [, flag] of VALUES.filter(([c]) => c === command)) expect(help, flag).toContain(`env: ${twin(flag)}`);
    if (command === 'coordinator') {
      expect(help).toContain('(default: 10m, env: LOCKSTEP_RESTART_WINDOW)');
      expect(help).toContain('(default: 5, env: LOCKSTEP_RESTART_BUDGET)');
    }
    if (command === 'run') {
      expect(help).toContain('(default: 5s, env: LOCKSTEP_HEALTH_PERIOD)');
      expect(help).toContain('(default: 10m, env: LOCKSTEP_HEALTH_START_GRACE)');
    }
    if (command === 'agent') expect(help).toContain('(default: 40s, env: LOCKSTEP_LEASE_DURATION)');
    if (command === 'inject') expect(help).toContain('(default: 16Mi, env: LOCKSTEP_MAX_INPUT_SIZE)');
  });
});
