/**
 * Legacy (non-aggregated) discovery documents. kubectl 1.32 asks for aggregated discovery
 * first but accepts these when the response is plain `application/json`; `kubectl drain`
 * looks for `pods/eviction` here and `kubectl scale` for `<resource>/scale`.
 */
import { API_GROUPS, RESOURCES, RESOURCE_VERBS, type ResourceDef } from './resources.js';

export const SIM_KUBERNETES_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4',
  gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T15:59:28Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupEntry(group: { name: string; versions: string[] }): unknown {
  const versions = group.versions.map((v) => ({ groupVersion: `${group.name}/${v}`, version: v }));
  return { name: group.name, versions, preferredVersion: versions[0] };
}

export function apiGroupList(): unknown {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: API_GROUPS.map(groupEntry) };
}

export function apiGroup(name: string): unknown | undefined {
  const group = API_GROUPS.find((g) => g.name === name);
  return group ? { kind: 'APIGroup', apiVersion: 'v1', ...(groupEntry(group) as object) } : undefined;
}

function entries(def: ResourceDef): unknown[] {
  const main = {
    name: def.plural,
    singularName: def.singular,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: RESOURCE_VERBS,
    ...(def.shortNames ? { shortNames: def.shortNames } : {}),
    ...(def.categories ? { categories: def.categories } : {}),
  };
  const subs = def.subresources.map((sub) => ({
    name: `${def.plural}/${sub.name}`,
    singularName: '',
    namespaced: def.namespaced,
    ...(sub.group !== undefined ? { group: sub.group, version: sub.version } : {}),
    kind: sub.kind,
    verbs: sub.verbs,
  }));
  return [main, ...subs];
}

/** `/api/v1` or `/apis/{group}/{version}`; undefined when the group version is not served. */
export function apiResourceList(group: string, version: string): unknown | undefined {
  const defs = RESOURCES.filter((r) => r.group === group && r.versions.includes(version));
  if (defs.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: defs.flatMap(entries),
  };
}
