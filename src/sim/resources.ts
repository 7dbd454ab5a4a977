/**
 * The resources the simulated API server serves, with what discovery advertises for them. One
 * table drives routing, discovery, list kinds and field selectors, so they cannot disagree.
 */
import type { KubeObject } from './kube-types.js';

export interface SubresourceDef {
  name: string;
  kind: string;
  /** Discovery names another group/version for some subresources (Scale, Eviction). */
  group?: string;
  version?: string;
  verbs: string[];
}

export interface ResourceDef {
  group: string;
  /** Versions served, preferred first. Objects are stored in the first one. */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  subresources: SubresourceDef[];
  /** Does the main resource ignore `.status` on update (status is a subresource)? */
  statusSubresource: boolean;
  /** Does the object carry metadata.generation (bumped on spec changes)? */
  hasGeneration: boolean;
  /** Field selector name → the value the server compares. */
  fields: Record<string, (obj: KubeObject) => string>;
}

export const RESOURCE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function path(obj: KubeObject, dotted: string): string {
  let node: unknown = obj;
  for (const segment of dotted.split('.')) {
    if (typeof node !== 'object' || node === null) return '';
    node = (node as Record<string, unknown>)[segment];
  }
  if (node === undefined || node === null) return '';
  return typeof node === 'string' ? node : String(node);
}

function byPath(...paths: string[]): Record<string, (obj: KubeObject) => string> {
  const out: Record<string, (obj: KubeObject) => string> = {
    'metadata.name': (o) => o.metadata.name ?? '',
  };
  for (const p of paths) out[p] = (o) => path(o, p);
  return out;
}

function namespacedFields(...paths: string[]): Record<string, (obj: KubeObject) => string> {
  return { ...byPath(...paths), 'metadata.namespace': (o) => o.metadata.namespace ?? '' };
}

const scale: SubresourceDef = {
  name: 'scale',
  kind: 'Scale',
  group: 'autoscaling',
  version: 'v1',
  verbs: ['get', 'patch', 'update'],
};

const status = (kind: string): SubresourceDef => ({ name: 'status', kind, verbs: ['get', 'patch', 'update'] });

export const RESOURCES: ResourceDef[] = [
  {
    group: '',
    versions: ['v1'],
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: [status('Namespace')],
    statusSubresource: true,
    hasGeneration: false,
    fields: { ...byPath('status.phase'), 'metadata.name': (o) => o.metadata.name ?? '' },
  },
  {
    group: '',
    versions: ['v1'],
    plural: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    subresources: [status('Node')],
    statusSubresource: true,
    hasGeneration: false,
    fields: {
      ...byPath(),
      // An absent `unschedulable` compares as "false", as in the server's field set.
      'spec.unschedulable': (o) => String(o.spec?.['unschedulable'] === true),
    },
  },
  {
    group: '',
    versions: ['v1'],
    plural: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      status('Pod'),
    ],
    statusSubresource: true,
    hasGeneration: false,
    fields: namespacedFields(
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ),
  },
  {
    group: '',
    versions: ['v1'],
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    subresources: [],
    statusSubresource: false,
    hasGeneration: false,
    fields: {
      ...namespacedFields(
        'involvedObject.kind',
        'involvedObject.namespace',
        'involvedObject.name',
        'involvedObject.uid',
        'involvedObject.apiVersion',
        'involvedObject.resourceVersion',
        'involvedObject.fieldPath',
        'reason',
        'reportingComponent',
        'type',
      ),
      source: (o) => path(o, 'source.component'),
    },
  },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'deployments',
    singular: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [scale, status('Deployment')],
    statusSubresource: true,
    hasGeneration: true,
    fields: namespacedFields(),
  },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'statefulsets',
    singular: 'statefulset',
    kind: 'StatefulSet',
    namespaced: true,
    shortNames: ['sts'],
    categories: ['all'],
    subresources: [scale, status('StatefulSet')],
    statusSubresource: true,
    hasGeneration: true,
    fields: namespacedFields(),
  },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'replicasets',
    singular: 'replicaset',
    kind: 'ReplicaSet',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: [scale, status('ReplicaSet')],
    statusSubresource: true,
    hasGeneration: true,
    fields: namespacedFields('status.replicas'),
  },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'daemonsets',
    singular: 'daemonset',
    kind: 'DaemonSet',
    namespaced: true,
    shortNames: ['ds'],
    categories: ['all'],
    subresources: [status('DaemonSet')],
    statusSubresource: true,
    hasGeneration: true,
    fields: namespacedFields(),
  },
  {
    group: 'policy',
    versions: ['v1'],
    plural: 'poddisruptionbudgets',
    singular: 'poddisruptionbudget',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    shortNames: ['pdb'],
    subresources: [status('PodDisruptionBudget')],
    statusSubresource: true,
    hasGeneration: true,
    fields: namespacedFields(),
  },
  {
    group: 'autoscaling',
    versions: ['v2', 'v1'],
    plural: 'horizontalpodautoscalers',
    singular: 'horizontalpodautoscaler',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    categories: ['all'],
    subresources: [status('HorizontalPodAutoscaler')],
    statusSubresource: true,
    hasGeneration: false,
    fields: namespacedFields(),
  },
];

/** Groups in the order `/apis` lists them. */
export const API_GROUPS: Array<{ name: string; versions: string[] }> = [
  { name: 'apps', versions: ['v1'] },
  { name: 'policy', versions: ['v1'] },
  { name: 'autoscaling', versions: ['v2', 'v1'] },
];

export function resourceKey(def: ResourceDef): string {
  return def.group ? `${def.plural}.${def.group}` : def.plural;
}

export function storageApiVersion(def: ResourceDef): string {
  const version = def.versions[0] ?? 'v1';
  return def.group ? `${def.group}/${version}` : version;
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.plural === plural && r.versions.includes(version));
}

export function findResourceByKind(group: string, version: string, kind: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.kind === kind && r.versions.includes(version));
}

/** Resolves a kind ("Pod"), plural ("pods"), singular or short name, case-insensitively. */
export function resolveResource(nameOrKind: string): ResourceDef | undefined {
  const wanted = nameOrKind.toLowerCase();
  return RESOURCES.find(
    (r) =>
      r.kind.toLowerCase() === wanted ||
      r.plural === wanted ||
      r.singular === wanted ||
      (r.shortNames ?? []).includes(wanted) ||
      resourceKey(r) === wanted,
  );
}
