import { defineFlags, flag } from '../cli/define-flags.js';
import { COORDINATOR_PORT, LWS, MAX_GROUP_SIZE, TOKEN_AUDIENCE } from '../contract/names.js';
import { DOWNWARD_ENV, MOUNTS, TOKEN_PATH } from '../inject/constants.js';
import { namespaceFlag, nodeNameFlag, podNameFlag } from './shared-flags.js';

/** A group member's ranks and sizes: the same bounds the coordinator enforces (MAX_GROUP_SIZE). */
export const groupSizeFlag = (description: string) =>
  flag.int({
    flags: '--group-size <n>',
    description,
    alsoEnv: [LWS.envGroupSize],
    min: 1,
    max: MAX_GROUP_SIZE,
    what: 'a group size',
  });

export const RANK_RANGE = { min: 0, max: MAX_GROUP_SIZE - 1, what: 'a rank' } as const;

/**
 * Flags of a member joining a group: `bootstrap` uses them, and `run` when no bootstrap ran before it. The defaults
 * are the paths `lockstep inject` mounts (src/inject/constants.ts) and the coordinator's port.
 */
export const joinFlags = defineFlags({
  leaderAddress: flag.text({
    flags: '--leader-address <host>',
    description: 'coordinator host (default: $LWS_LEADER_ADDRESS, then ordinal 0’s DNS name)',
    alsoEnv: [LWS.envLeaderAddress],
  }),
  coordinatorPort: flag.int({
    flags: '--coordinator-port <port>',
    description: 'coordinator gRPC port',
    default: COORDINATOR_PORT,
    min: 1,
    max: 65_535,
    what: 'a TCP port',
  }),
  groupSize: groupSizeFlag('members expected, leader included'),
  rank: flag.int({
    flags: '--rank <n>',
    description: 'rank hint (default: LWS worker index or pod ordinal)',
    alsoEnv: [LWS.envWorkerIndex],
    ...RANK_RANGE,
  }),
  podName: podNameFlag,
  podIp: flag.text({ flags: '--pod-ip <ip>', description: 'this pod’s IP', alsoEnv: [DOWNWARD_ENV.podIp.name] }),
  nodeName: nodeNameFlag,
  namespace: namespaceFlag,
  tokenFile: flag.text({
    flags: '--token-file <path>',
    description: `projected service-account token (audience ${TOKEN_AUDIENCE})`,
    default: `${MOUNTS.token.mountPath}/${TOKEN_PATH}`,
  }),
  envFile: flag.text({
    flags: '--env-file <path>',
    description: 'group environment file (shell); a .json twin sits beside it',
    default: `${MOUNTS.run.mountPath}/group.env`,
  }),
  group: flag.text({ flags: '--group <name>', description: 'group this pod belongs to (checked by the coordinator)' }),
  devices: flag.text({
    flags: '--devices <ids>',
    description: 'accelerators of this pod, comma-separated (default: $NVIDIA_VISIBLE_DEVICES, then /dev/nvidiaN)',
  }),
  tlsCa: flag.text({
    flags: '--tls-ca <file>',
    description: 'CA certificate (PEM) of a coordinator serving TLS; plaintext without it',
  }),
  progressInterval: flag.duration({
    flags: '--progress-interval <duration>',
    description: 'how often to print where the group stands while waiting',
    default: '5s',
  }),
  timeout: flag.duration({ flags: '--timeout <duration>', description: 'give up after this long', default: '10m' }),
});
