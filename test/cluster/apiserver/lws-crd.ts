/**
 * The LeaderWorkerSet custom resource (leaderworkerset.x-k8s.io/v1) as the test cluster serves it where ../shared/k8s
 * (the official v0.10.0 CRD) is absent: the structural schema written here from LWS's Go API
 * (sigs.k8s.io/lws api/leaderworkerset/v1/leaderworkerset_types.go: field names, required fields, enums and
 * `+kubebuilder:default` markers), with descriptions in our own words, not copied from its generated CRD. The leader
 * and worker pod templates and the volume claim templates keep unknown fields (the real CRD embeds the whole core/v1
 * PodTemplateSpec; the API server double validates pods where it stores them), so a typo inside a template is not
 * refused here while one anywhere else in the spec is.
 */
import type { Schema } from './validation/schema.js';

const doc = (description: string, schema: Schema): Schema => ({ description, ...schema });
const int32 = (description: string, extra: Schema = {}): Schema =>
  doc(description, { type: 'integer', format: 'int32', ...extra });
const oneOf = (description: string, values: string[], fallback?: string): Schema =>
  doc(description, { type: 'string', enum: values, ...(fallback === undefined ? {} : { default: fallback }) });
const intOrString = (description: string, fallback: number): Schema =>
  doc(description, {
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    default: fallback,
  });
const podTemplate = (description: string): Schema =>
  doc(description, {
    type: 'object',
    properties: {
      metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  });

const leaderWorkerTemplate: Schema = doc('The pods of each group: a leader and size-1 workers.', {
  type: 'object',
  required: ['workerTemplate'],
  properties: {
    leaderTemplate: podTemplate('The leader pod; the worker template when absent.'),
    workerTemplate: podTemplate('The worker pods (and the leader, when no leader template is given).'),
    size: int32('Pods per group, the leader included.', { default: 1 }),
    restartPolicy: oneOf(
      'What happens to a group when one of its pods restarts or fails.',
      ['Default', 'RecreateGroupOnPodRestart', 'RecreateGroupAfterStart', 'None'],
      'RecreateGroupOnPodRestart',
    ),
    subGroupPolicy: doc('Splits each group into sub-groups (for topology-aware placement).', {
      type: 'object',
      properties: {
        subGroupPolicyType: oneOf(
          'Whether the leader belongs to a sub-group.',
          ['LeaderWorker', 'LeaderExcluded'],
          'LeaderWorker',
        ),
        subGroupSize: int32('Pods per sub-group.'),
      },
    }),
    volumeClaimTemplates: doc('Claims each pod of a group gets, as a StatefulSet does.', {
      type: 'array',
      items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    }),
    persistentVolumeClaimRetentionPolicy: doc('Whether claims from volumeClaimTemplates are deleted.', {
      type: 'object',
      properties: {
        whenDeleted: doc('"Retain" or "Delete" when the LeaderWorkerSet is deleted.', { type: 'string' }),
        whenScaled: doc('"Retain" or "Delete" when groups are scaled down.', { type: 'string' }),
      },
    }),
  },
});

export const LWS_SCHEMA: Schema = {
  description: 'A set of groups of pods, each a leader and its workers, scaled and rolled out as units.',
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: doc('The desired groups.', {
      type: 'object',
      required: ['leaderWorkerTemplate'],
      properties: {
        replicas: int32('Number of groups.', { default: 1, minimum: 0 }),
        leaderWorkerTemplate,
        rolloutStrategy: doc('How groups are replaced when the template changes.', {
          type: 'object',
          required: ['type'],
          properties: {
            type: oneOf('The strategy.', ['RollingUpdate'], 'RollingUpdate'),
            rollingUpdateConfiguration: doc('Limits of a rolling update.', {
              type: 'object',
              properties: {
                partition: int32('Groups with an index below it keep the old template.', { default: 0 }),
                maxUnavailable: intOrString('Groups that may be unavailable during the update (number or %).', 1),
                maxSurge: intOrString('Groups that may be created above replicas during the update (number or %).', 0),
              },
            }),
          },
        }),
        startupPolicy: oneOf(
          'When workers are created: once the leader pod exists, or once it is ready.',
          ['LeaderCreated', 'LeaderReady'],
          'LeaderCreated',
        ),
        networkConfig: doc('DNS of the groups.', {
          type: 'object',
          required: ['subdomainPolicy'],
          properties: {
            subdomainPolicy: oneOf('One headless-service subdomain for all groups, or one per group.', [
              'Shared',
              'UniquePerReplica',
            ]),
          },
        }),
      },
    }),
    status: doc('What the controller observed.', {
      type: 'object',
      properties: {
        conditions: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        readyReplicas: int32('Groups whose pods are all ready.'),
        updatedReplicas: int32('Groups on the current template.'),
        replicas: int32('Groups that exist.'),
        hpaPodSelector: doc('The label selector of leader pods, for the HorizontalPodAutoscaler.', { type: 'string' }),
        observedGeneration: doc('The generation the status describes.', { type: 'integer', format: 'int64' }),
      },
    }),
  },
};
