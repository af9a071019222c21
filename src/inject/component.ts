import { stringify } from 'yaml';
import { CONDITION_GROUP_READY, LABEL_GROUP } from '../contract/names.js';
import { BOOTSTRAP_CONTAINER, COORDINATOR_CONTAINER, LOCKSTEP_BIN } from './constants.js';
import type { JsonObject } from './json.js';
import {
  apiAccessVolume,
  bootstrapContainer,
  coordinatorContainer,
  downwardEnv,
  runAndTokenMounts,
  runVolume,
  type TemplatePlan,
  tokenVolume,
} from './pod-template.js';

/**
 * The kustomize component deploy/components/lockstep-group/, built from the same pieces `lockstep inject` writes so
 * the two cannot drift (deploy/generate.ts writes it; a test checks the committed files equal this output).
 *
 * Kustomize cannot append to a list that may be missing with a JSON patch, but a replacement with `create: true`
 * can add a list item by key (`volumes.[name=lockstep-run]`), so every piece lives in a local-config object (dropped
 * from the output) and is copied into the LeaderWorkerSet by replacements. The only JSON patch inserts the
 * `lockstep run` prefix in front of the main container's command, which must exist (as `lockstep inject` requires).
 */
export const COMPONENT_DIR = 'deploy/components/lockstep-group';
const PARTS_KIND = 'LockstepGroupParts';
const PARTS_NAME = 'lockstep-group-parts';

type Role = 'leaderTemplate' | 'workerTemplate';
const ROLES: readonly Role[] = ['leaderTemplate', 'workerTemplate'];

function plan(role: Role): TemplatePlan {
  return {
    where: role,
    groupLabel: '',
    coordinator: role === 'leaderTemplate' ? 'always' : 'never',
    coordinatorArgs: [],
    bootstrapArgs: [],
    env: [],
  };
}

export function componentFiles(image: string): Record<string, string> {
  const env = downwardEnv();
  const [runMount, tokenMount] = runAndTokenMounts();
  const parts: JsonObject = {
    apiVersion: 'lockstep.dev/v1alpha1',
    kind: PARTS_KIND,
    metadata: {
      name: PARTS_NAME,
      // kustomize drops local-config objects from its output: this one only feeds the replacements below
      annotations: { 'config.kubernetes.io/local-config': 'true' },
    },
    coordinator: coordinatorContainer(image, plan('leaderTemplate')),
    bootstrap: bootstrapContainer(image, plan('workerTemplate')),
    volumes: { run: runVolume(), token: tokenVolume(), apiAccess: apiAccessVolume() },
    // as inject: no automatic API token in the engine's container; the coordinator mounts apiAccess
    automountServiceAccountToken: false,
    mounts: { run: runMount!, token: tokenMount! },
    env: Object.fromEntries(env.map((e) => [String(e.name), e])),
    readinessGate: { conditionType: CONDITION_GROUP_READY },
    restartPolicy: 'None',
    // as inject: LeaderReady would wait for ever (the leader is Ready only once its workers have joined)
    startupPolicy: 'LeaderCreated',
  };

  const base = 'spec.leaderWorkerTemplate';
  const copy = (from: string, to: string[]): JsonObject => ({
    source: { kind: PARTS_KIND, name: PARTS_NAME, fieldPath: from },
    targets: [{ select: { kind: 'LeaderWorkerSet' }, fieldPaths: to, options: { create: true } }],
  });
  const both = (path: string) => ROLES.map((role) => `${base}.${role}.${path}`);
  const replacements: JsonObject[] = [
    copy('restartPolicy', [`${base}.restartPolicy`]),
    copy('startupPolicy', ['spec.startupPolicy']),
    {
      source: { kind: 'LeaderWorkerSet', fieldPath: 'metadata.name' },
      targets: [
        {
          select: { kind: 'LeaderWorkerSet' },
          fieldPaths: both(`metadata.labels.[${LABEL_GROUP}]`),
          options: { create: true },
        },
      ],
    },
    copy('coordinator', [`${base}.leaderTemplate.spec.initContainers.[name=${COORDINATOR_CONTAINER}]`]),
    copy('bootstrap', both(`spec.initContainers.[name=${BOOTSTRAP_CONTAINER}]`)),
    copy('volumes.run', both(`spec.volumes.[name=${String(runMount!.name)}]`)),
    copy('volumes.token', both(`spec.volumes.[name=${String(tokenMount!.name)}]`)),
    copy('volumes.apiAccess', [`${base}.leaderTemplate.spec.volumes.[name=${String(apiAccessVolume().name)}]`]),
    copy('automountServiceAccountToken', both('spec.automountServiceAccountToken')),
    ...env.map((e) => copy(`env.${String(e.name)}`, both(`spec.containers.0.env.[name=${String(e.name)}]`))),
    copy('mounts.run', both(`spec.containers.0.volumeMounts.[mountPath=${String(runMount!.mountPath)}]`)),
    copy('mounts.token', both(`spec.containers.0.volumeMounts.[mountPath=${String(tokenMount!.mountPath)}]`)),
    copy('readinessGate', both(`spec.readinessGates.[conditionType=${CONDITION_GROUP_READY}]`)),
  ];
  const prefix = [LOCKSTEP_BIN, 'run', '--engine=auto', '--'];
  const patches = ROLES.map((role) => ({
    target: { kind: 'LeaderWorkerSet' },
    patch: stringify(
      prefix.map((word, i) => ({
        op: 'add',
        path: `/spec/leaderWorkerTemplate/${role}/spec/containers/0/command/${i}`,
        value: word,
      })),
    ),
  }));
  const kustomization: JsonObject = {
    apiVersion: 'kustomize.config.k8s.io/v1alpha1',
    kind: 'Component',
    resources: ['parts.yaml'],
    patches,
    replacements,
  };
  const header = (what: string) =>
    `# GENERATED by deploy/generate.ts from src/inject (the code of \`lockstep inject\`): do not edit.\n# ${what}\n`;
  return {
    'kustomization.yaml':
      header(
        'Wires lockstep into one LeaderWorkerSet (with a leaderTemplate; the main container is the first one and has a command); see deploy/README.md.',
      ) + stringify(kustomization, { lineWidth: 0 }),
    'parts.yaml':
      header('The pieces the replacements in kustomization.yaml copy into the LeaderWorkerSet.') +
      stringify(parts, { lineWidth: 0, aliasDuplicateObjects: false }),
  };
}
