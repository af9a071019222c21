import type { Command } from 'commander';
import { flag, parseDuration, parseGroupSize, parsePort, parseRank } from '../cli/options.js';
import { namespaceFlag, nodeNameFlag, podNameFlag } from './shared-flags.js';

/** Flags of a member joining a group: `bootstrap` uses them, and `run` when no bootstrap ran before it. */
export function addJoinFlags(command: Command, env: NodeJS.ProcessEnv): Command {
  return command
    .addOption(
      flag(
        {
          flags: '--leader-address <host>',
          description: 'coordinator host (default: $LWS_LEADER_ADDRESS, then ordinal 0’s DNS name)',
          alsoEnv: ['LWS_LEADER_ADDRESS'],
        },
        env,
      ),
    )
    .addOption(
      flag(
        { flags: '--coordinator-port <port>', description: 'coordinator gRPC port', default: 7470, parse: parsePort },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--group-size <n>',
          description: 'members expected, leader included',
          alsoEnv: ['LWS_GROUP_SIZE'],
          parse: parseGroupSize,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--rank <n>',
          description: 'rank hint (default: LWS worker index or pod ordinal)',
          alsoEnv: ['LWS_WORKER_INDEX'],
          parse: parseRank,
        },
        env,
      ),
    )
    .addOption(podNameFlag(env))
    .addOption(flag({ flags: '--pod-ip <ip>', description: 'this pod’s IP', alsoEnv: ['POD_IP'] }, env))
    .addOption(nodeNameFlag(env))
    .addOption(namespaceFlag(env))
    .addOption(
      flag(
        {
          flags: '--token-file <path>',
          description: 'projected service-account token (audience lockstep)',
          default: '/var/run/secrets/lockstep/token',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--env-file <path>',
          description: 'group environment file (shell); a .json twin sits beside it',
          default: '/var/run/lockstep/group.env',
        },
        env,
      ),
    )
    .addOption(
      flag({ flags: '--group <name>', description: 'group this pod belongs to (checked by the coordinator)' }, env),
    )
    .addOption(
      flag(
        {
          flags: '--devices <ids>',
          description:
            'accelerators of this pod, comma-separated (default: $NVIDIA_VISIBLE_DEVICES, then /dev/nvidiaN)',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--tls-ca <file>',
          description: 'CA certificate (PEM) of a coordinator serving TLS; plaintext without it',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--progress-interval <duration>',
          description: 'how often to print where the group stands while waiting',
          default: '5s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--timeout <duration>',
          description: 'give up after this long',
          default: '10m',
          parse: parseDuration,
        },
        env,
      ),
    );
}
