/** Kubeconfig files the real clients read: one cluster, one user with a bearer token, one context. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigInput {
  server: string;
  token: string;
  user: string;
  caPem?: string;
  namespace?: string;
}

function kubeconfigYaml(input: KubeconfigInput): string {
  const cluster: Record<string, unknown> = { server: input.server };
  if (input.caPem) cluster['certificate-authority-data'] = Buffer.from(input.caPem).toString('base64');
  // client-node refuses plain http unless the cluster says insecure-skip-tls-verify (there is no TLS to verify).
  else if (input.server.startsWith('http:')) cluster['insecure-skip-tls-verify'] = true;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lockstep-test', cluster }],
    users: [{ name: input.user, user: { token: input.token } }],
    contexts: [
      {
        name: 'lockstep-test',
        context: {
          cluster: 'lockstep-test',
          user: input.user,
          ...(input.namespace ? { namespace: input.namespace } : {}),
        },
      },
    ],
    'current-context': 'lockstep-test',
    preferences: {},
  });
}

/** Written atomically (temp + rename) so a client never reads half a file. */
export function writeKubeconfig(path: string, input: KubeconfigInput): string {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, kubeconfigYaml(input), { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}
