/**
 * A pod's volumes as directories under the pod's own directory, as the kubelet sets them up before the first
 * container: emptyDir (an empty directory), configMap / secret (one file per key), projected (service-account tokens
 * from the API's TokenRequest, bound to the pod, plus configMap / secret / downwardAPI sources; tokens are written
 * once, not renewed). Files are written atomically.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isNotFound, type KubeClient } from '../../../src/kube/client.js';
import type { Pod } from '../../../src/kube/types.js';
import { ContainerConfigError, fieldRefValue, type VolumeSpec } from './spec.js';

interface DataObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

async function writeAtomic(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, content, { mode });
  await rename(temp, path);
}

/** Reads ConfigMaps and Secrets of the pod's namespace; undefined when absent. */
export async function readDataObject(
  client: KubeClient,
  namespace: string,
  kind: 'configMap' | 'secret',
  name: string,
): Promise<Record<string, Buffer> | undefined> {
  const plural = kind === 'configMap' ? 'configmaps' : 'secrets';
  try {
    const object = await client.get<DataObject>(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`,
    );
    const out: Record<string, Buffer> = {};
    for (const [key, value] of Object.entries(object.data ?? {})) {
      out[key] = kind === 'secret' ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
    }
    for (const [key, value] of Object.entries(object.binaryData ?? {})) out[key] = Buffer.from(value, 'base64');
    return out;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function writeKeys(
  dir: string,
  data: Record<string, Buffer> | undefined,
  items: { key: string; path: string }[] | undefined,
  what: string,
  optional: boolean | undefined,
): Promise<void> {
  if (!data) {
    if (optional) return;
    throw new ContainerConfigError(`MountVolume.SetUp failed: ${what} not found`);
  }
  const entries = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const { key, path } of entries) {
    const value = data[key];
    if (value === undefined) {
      if (optional) continue;
      throw new ContainerConfigError(`MountVolume.SetUp failed: ${what} has no key ${key}`);
    }
    await writeAtomic(join(dir, path), value);
  }
}

/** TokenRequest for the pod's service account, bound to the pod (what the kubelet asks for projected tokens). */
async function requestToken(
  client: KubeClient,
  pod: Pod,
  serviceAccount: string,
  audience: string | undefined,
  expirationSeconds: number | undefined,
): Promise<string> {
  const namespace = pod.metadata.namespace ?? 'default';
  const reply = await client.create<{ status?: { token?: string } }>(
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        ...(audience ? { audiences: [audience] } : {}),
        expirationSeconds: expirationSeconds ?? 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
      },
    },
  );
  const token = reply.status?.token;
  if (!token) throw new ContainerConfigError(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return token;
}

/** Creates every volume of the pod under `volumesDir`; returns volume name → directory. */
export async function setUpVolumes(
  client: KubeClient,
  pod: Pod,
  volumes: readonly VolumeSpec[],
  serviceAccount: string,
  volumesDir: string,
): Promise<Map<string, string>> {
  const namespace = pod.metadata.namespace ?? 'default';
  const dirs = new Map<string, string>();
  for (const volume of volumes) {
    const dir = join(volumesDir, volume.name);
    await mkdir(dir, { recursive: true });
    dirs.set(volume.name, dir);
    if (volume.configMap) {
      const data = await readDataObject(client, namespace, 'configMap', volume.configMap.name);
      await writeKeys(
        dir,
        data,
        volume.configMap.items,
        `configmap "${volume.configMap.name}"`,
        volume.configMap.optional,
      );
    } else if (volume.secret) {
      const data = await readDataObject(client, namespace, 'secret', volume.secret.secretName);
      await writeKeys(dir, data, volume.secret.items, `secret "${volume.secret.secretName}"`, volume.secret.optional);
    } else if (volume.projected) {
      for (const source of volume.projected.sources) {
        if (source.serviceAccountToken) {
          const token = await requestToken(
            client,
            pod,
            serviceAccount,
            source.serviceAccountToken.audience,
            source.serviceAccountToken.expirationSeconds,
          );
          await writeAtomic(join(dir, source.serviceAccountToken.path), token, 0o600);
        } else if (source.configMap) {
          const data = await readDataObject(client, namespace, 'configMap', source.configMap.name);
          await writeKeys(
            dir,
            data,
            source.configMap.items,
            `configmap "${source.configMap.name}"`,
            source.configMap.optional,
          );
        } else if (source.secret) {
          const data = await readDataObject(client, namespace, 'secret', source.secret.name);
          await writeKeys(dir, data, source.secret.items, `secret "${source.secret.name}"`, source.secret.optional);
        } else if (source.downwardAPI) {
          for (const item of source.downwardAPI.items) {
            if (!item.fieldRef) continue;
            await writeAtomic(join(dir, item.path), fieldRefValue(pod, item.fieldRef.fieldPath, '', ''));
          }
        }
      }
    }
    // emptyDir (medium Memory included) and anything else: the empty directory
  }
  return dirs;
}
