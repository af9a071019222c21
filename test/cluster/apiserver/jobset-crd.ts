/**
 * The JobSet custom resource (jobset.x-k8s.io/v1alpha2) as the test cluster serves it: the structural schema written
 * here from JobSet's Go API (sigs.k8s.io/jobset api/jobset/v1alpha2/jobset_types.go: field names, required fields,
 * enums, `+kubebuilder:default` markers), not copied from its generated CRD. The Job template inside a replicated job
 * keeps unknown fields (the real CRD embeds the whole batch/v1 JobSpec; the API server double validates Jobs' pod
 * templates where it stores Jobs). The defaulting webhook's defaults are applied by the JobSet controller-lite.
 */
import type { Schema } from './validation/schema.js';

const str: Schema = { type: 'string' };
const int32: Schema = { type: 'integer', format: 'int32' };
const strings: Schema = { type: 'array', items: str };
const open: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

const replicatedJob: Schema = {
  type: 'object',
  required: ['name', 'template'],
  properties: {
    name: str,
    groupName: { type: 'string', default: 'default', maxLength: 63 },
    template: {
      type: 'object',
      properties: {
        metadata: open,
        spec: { ...open, type: 'object' },
      },
    },
    replicas: { ...int32, default: 1, minimum: 0 },
    dependsOn: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'status'],
        properties: { name: str, status: { type: 'string', enum: ['Ready', 'Complete'] } },
      },
    },
  },
};

export const JOBSET_SCHEMA: Schema = {
  type: 'object',
  properties: {
    apiVersion: str,
    kind: str,
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      properties: {
        replicatedJobs: { type: 'array', items: replicatedJob },
        network: {
          type: 'object',
          properties: {
            enableDNSHostnames: { type: 'boolean' },
            subdomain: str,
            publishNotReadyAddresses: { type: 'boolean' },
          },
        },
        successPolicy: {
          type: 'object',
          required: ['operator'],
          properties: { operator: { type: 'string', enum: ['All', 'Any'] }, targetReplicatedJobs: strings },
        },
        failurePolicy: {
          type: 'object',
          properties: {
            maxRestarts: int32,
            restartStrategy: {
              type: 'string',
              default: 'Recreate',
              enum: ['Recreate', 'BlockingRecreate', 'InPlaceRestart'],
            },
            rules: {
              type: 'array',
              items: {
                type: 'object',
                required: ['action'],
                properties: {
                  name: str,
                  action: {
                    type: 'string',
                    enum: [
                      'FailJobSet',
                      'RestartJobSet',
                      'RestartJobSetAndIgnoreMaxRestarts',
                      'RestartJob',
                      'RestartJobAndIgnoreMaxRestarts',
                    ],
                  },
                  onJobFailureReasons: strings,
                  onJobFailureMessagePatterns: strings,
                  targetReplicatedJobs: strings,
                },
              },
            },
          },
        },
        startupPolicy: {
          type: 'object',
          required: ['startupPolicyOrder'],
          properties: { startupPolicyOrder: { type: 'string', enum: ['AnyOrder', 'InOrder'] } },
        },
        suspend: { type: 'boolean' },
        coordinator: {
          type: 'object',
          required: ['replicatedJob'],
          properties: { replicatedJob: str, jobIndex: { type: 'integer' }, podIndex: { type: 'integer' } },
        },
        managedBy: str,
        ttlSecondsAfterFinished: { ...int32, minimum: 0 },
        volumeClaimPolicies: { type: 'array', items: open },
      },
    },
    status: open,
  },
};
