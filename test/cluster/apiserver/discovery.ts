/**
 * Discovery documents: the legacy ones (/api, /apis, /api/v1, /apis/<g>/<v>) and the aggregated discovery
 * (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) that kubectl ≥1.30 and client-go ask for first.
 */
import { ALL_VERBS, apiVersionOf, type KindRegistry, type KindSpec } from './kinds.js';

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** True when the Accept header asks for aggregated discovery (v2 or v2beta1; the v2 answer satisfies both clients). */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    if (!part.includes('as=APIGroupDiscoveryList')) continue;
    if (/v=v2(;|$)/.test(part.replace(/\s/g, ''))) return 'v2';
    if (part.includes('v=v2beta1')) return 'v2beta1';
  }
  return undefined;
}

function verbsOf(k: KindSpec): string[] {
  return k.verbs ?? ALL_VERBS;
}

function subresourceVerbs(sub: string): string[] {
  if (sub === 'token' || sub === 'binding') return ['create'];
  return ['get', 'patch', 'update'];
}

export function apiResourceList(kinds: KindRegistry, group: string, version: string): unknown {
  const resources: unknown[] = [];
  for (const k of kinds.all) {
    if (k.group !== group || k.version !== version) continue;
    resources.push({
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: verbsOf(k),
      ...(k.shortNames ? { shortNames: k.shortNames } : {}),
      ...(k.categories ? { categories: k.categories } : {}),
      storageVersionHash: Buffer.from(`${group}/${version}/${k.kind}`).toString('base64').slice(0, 11),
    });
    for (const sub of k.subresources ?? []) {
      const subKind = sub === 'token' ? 'TokenRequest' : sub === 'binding' ? 'Binding' : k.kind;
      resources.push({
        name: `${k.plural}/${sub}`,
        singularName: '',
        namespaced: k.namespaced,
        ...(sub === 'token' ? { group: 'authentication.k8s.io', version: 'v1' } : {}),
        kind: subKind,
        verbs: subresourceVerbs(sub),
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}

export function legacyApiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(group: string, versions: string[]): unknown {
  const list = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(kinds: KindRegistry): unknown {
  const groups = new Map<string, string[]>();
  for (const gv of kinds.groupVersions()) {
    if (gv.group === '') continue;
    const list = groups.get(gv.group) ?? [];
    if (!list.includes(gv.version)) list.push(gv.version);
    groups.set(gv.group, list);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups.entries()].map(([g, vs]) => apiGroup(g, vs)),
  };
}

export function apiGroupDoc(kinds: KindRegistry, group: string): unknown | undefined {
  const versions = kinds
    .groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => gv.version);
  if (versions.length === 0) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...(apiGroup(group, versions) as object) };
}

/** apidiscovery.k8s.io/v2 for either the core group (/api) or the named groups (/apis). */
export function aggregatedDiscovery(kinds: KindRegistry, core: boolean, version: 'v2' | 'v2beta1'): unknown {
  const groups = new Map<string, Map<string, KindSpec[]>>();
  for (const k of kinds.all) {
    if ((k.group === '') !== core) continue;
    let versions = groups.get(k.group);
    if (!versions) {
      versions = new Map();
      groups.set(k.group, versions);
    }
    const list = versions.get(k.version) ?? [];
    list.push(k);
    versions.set(k.version, list);
  }
  const items = [...groups.entries()].map(([group, versions]) => ({
    metadata: { name: group, creationTimestamp: null },
    versions: [...versions.entries()].map(([version, list]) => ({
      version,
      freshness: 'Current',
      resources: list.map((k) => ({
        resource: k.plural,
        responseKind: { group: k.group, version: k.version, kind: k.kind },
        scope: k.namespaced ? 'Namespaced' : 'Cluster',
        singularResource: k.singular,
        verbs: verbsOf(k),
        ...(k.shortNames ? { shortNames: k.shortNames } : {}),
        ...(k.categories ? { categories: k.categories } : {}),
        ...(k.subresources
          ? {
              subresources: k.subresources.map((sub) => ({
                subresource: sub,
                responseKind:
                  sub === 'token'
                    ? { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }
                    : sub === 'binding'
                      ? { group: '', version: 'v1', kind: 'Binding' }
                      : { group: k.group, version: k.version, kind: k.kind },
                verbs: subresourceVerbs(sub),
              })),
            }
          : {}),
      })),
    })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}
