/**
 * Server-side printing (meta.k8s.io/v1 Table) for `kubectl get`, with the columns of
 * pkg/printers/internalversion for the kinds the sim serves. Without it kubectl would fall back
 * to NAME/AGE only.
 */
import type { KubeNode, KubeObject, Pod, PodDisruptionBudget, Workload } from './kube-types.js';
import { isRecord } from './kube-types.js';
import type { ResourceDef } from './resources.js';
import { formatLabelSelector } from './selectors.js';

interface Column {
  name: string;
  type: 'string' | 'integer';
  format?: string;
  priority?: number;
  cell: (obj: KubeObject) => string | number;
}

/** kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` when it wants to print. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => part.includes('as=Table') && part.includes('g=meta.k8s.io'));
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  return years < 8 ? `${years}y${Math.floor(hours / 24) % 365}d` : `${years}y`;
}

function age(obj: KubeObject): string {
  const created = obj.metadata.creationTimestamp;
  return created ? humanDuration(Date.now() - Date.parse(created)) : '<unknown>';
}

const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name ?? '' };
const ageColumn: Column = { name: 'Age', type: 'string', cell: age };

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function podStatusReason(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  let reason = (pod.status?.['reason'] as string | undefined) ?? pod.status?.phase ?? 'Unknown';
  for (const cs of pod.status?.containerStatuses ?? []) {
    if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
  }
  return reason;
}

function podRestarts(pod: Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const restarts = statuses.reduce((sum, cs) => sum + cs.restartCount, 0);
  const last = statuses
    .map((cs) => cs.lastState?.terminated?.finishedAt)
    .filter((t): t is string => typeof t === 'string')
    .sort()
    .pop();
  return restarts > 0 && last ? `${restarts} (${humanDuration(Date.now() - Date.parse(last))} ago)` : String(restarts);
}

function containersOf(w: Workload): { names: string; images: string } {
  const containers = w.spec?.template?.spec.containers ?? [];
  return { names: containers.map((c) => c.name).join(','), images: containers.map((c) => c.image ?? '').join(',') };
}

function nodeRoles(node: KubeNode): string {
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length > 0 ? roles.sort().join(',') : '<none>';
}

function nodeStatus(node: KubeNode): string {
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const parts = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeInfo(node: KubeNode, key: string): string {
  const info = node.status?.['nodeInfo'];
  return isRecord(info) && typeof info[key] === 'string' ? info[key] : '<unknown>';
}

function intOrPercent(value: unknown): string {
  return value === undefined || value === null ? 'N/A' : String(value);
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const pod = o as Pod;
        const statuses = pod.status?.containerStatuses ?? [];
        return `${statuses.filter((s) => s.ready).length}/${pod.spec?.containers?.length ?? 0}`;
      },
    },
    { name: 'Status', type: 'string', cell: (o) => podStatusReason(o as Pod) },
    { name: 'Restarts', type: 'string', cell: (o) => podRestarts(o as Pod) },
    ageColumn,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => (o as Pod).status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => (o as Pod).spec?.nodeName ?? '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: () => '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: () => '<none>' },
  ],
  Node: [
    name,
    { name: 'Status', type: 'string', cell: (o) => nodeStatus(o as KubeNode) },
    { name: 'Roles', type: 'string', cell: (o) => nodeRoles(o as KubeNode) },
    ageColumn,
    { name: 'Version', type: 'string', cell: (o) => nodeInfo(o as KubeNode, 'kubeletVersion') },
    {
      name: 'Internal-IP',
      type: 'string',
      priority: 1,
      cell: (o) => (o as KubeNode).status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '<none>',
    },
    { name: 'External-IP', type: 'string', priority: 1, cell: () => '<none>' },
    { name: 'OS-Image', type: 'string', priority: 1, cell: (o) => nodeInfo(o as KubeNode, 'osImage') },
    { name: 'Kernel-Version', type: 'string', priority: 1, cell: (o) => nodeInfo(o as KubeNode, 'kernelVersion') },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (o) => nodeInfo(o as KubeNode, 'containerRuntimeVersion') },
  ],
  Namespace: [name, { name: 'Status', type: 'string', cell: (o) => String(o.status?.['phase'] ?? '') }, ageColumn],
  Deployment: [
    name,
    { name: 'Ready', type: 'string', cell: (o) => `${num(o.status?.['readyReplicas'])}/${num((o as Workload).spec?.replicas)}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(o.status?.['updatedReplicas']) },
    { name: 'Available', type: 'integer', cell: (o) => num(o.status?.['availableReplicas']) },
    ageColumn,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containersOf(o as Workload).names },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containersOf(o as Workload).images },
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => formatLabelSelector((o as Workload).spec?.selector) },
  ],
  StatefulSet: [
    name,
    { name: 'Ready', type: 'string', cell: (o) => `${num(o.status?.['readyReplicas'])}/${num((o as Workload).spec?.replicas)}` },
    ageColumn,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containersOf(o as Workload).names },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containersOf(o as Workload).images },
  ],
  ReplicaSet: [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => num((o as Workload).spec?.replicas) },
    { name: 'Current', type: 'integer', cell: (o) => num(o.status?.['replicas']) },
    { name: 'Ready', type: 'integer', cell: (o) => num(o.status?.['readyReplicas']) },
    ageColumn,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containersOf(o as Workload).names },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containersOf(o as Workload).images },
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => formatLabelSelector((o as Workload).spec?.selector) },
  ],
  DaemonSet: [
    name,
    { name: 'Desired', type: 'integer', cell: (o) => num(o.status?.['desiredNumberScheduled']) },
    { name: 'Current', type: 'integer', cell: (o) => num(o.status?.['currentNumberScheduled']) },
    { name: 'Ready', type: 'integer', cell: (o) => num(o.status?.['numberReady']) },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(o.status?.['updatedNumberScheduled']) },
    { name: 'Available', type: 'integer', cell: (o) => num(o.status?.['numberAvailable']) },
    {
      name: 'Node Selector',
      type: 'string',
      cell: (o) => {
        const sel = (o as Workload).spec?.template?.spec.nodeSelector ?? {};
        const parts = Object.entries(sel).map(([k, v]) => `${k}=${v}`);
        return parts.length > 0 ? parts.join(',') : '<none>';
      },
    },
    ageColumn,
  ],
  PodDisruptionBudget: [
    name,
    { name: 'Min Available', type: 'string', cell: (o) => intOrPercent((o as PodDisruptionBudget).spec?.minAvailable) },
    { name: 'Max Unavailable', type: 'string', cell: (o) => intOrPercent((o as PodDisruptionBudget).spec?.maxUnavailable) },
    { name: 'Allowed Disruptions', type: 'integer', cell: (o) => num(o.status?.['disruptionsAllowed']) },
    ageColumn,
  ],
  HorizontalPodAutoscaler: [
    name,
    {
      name: 'Reference',
      type: 'string',
      cell: (o) => {
        const ref = isRecord(o.spec?.['scaleTargetRef']) ? o.spec['scaleTargetRef'] : {};
        return `${String(ref['kind'] ?? '')}/${String(ref['name'] ?? '')}`;
      },
    },
    { name: 'Targets', type: 'string', cell: () => '<unknown>' },
    { name: 'MinPods', type: 'string', cell: (o) => String(o.spec?.['minReplicas'] ?? 1) },
    { name: 'MaxPods', type: 'integer', cell: (o) => num(o.spec?.['maxReplicas']) },
    { name: 'Replicas', type: 'integer', cell: (o) => num(o.status?.['currentReplicas']) },
    ageColumn,
  ],
  Event: [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (o) => {
        const t = (o['lastTimestamp'] ?? o['eventTime'] ?? o.metadata.creationTimestamp) as string | undefined;
        return t ? humanDuration(Date.now() - Date.parse(t)) : '<unknown>';
      },
    },
    { name: 'Type', type: 'string', cell: (o) => String(o['type'] ?? '') },
    { name: 'Reason', type: 'string', cell: (o) => String(o['reason'] ?? '') },
    {
      name: 'Object',
      type: 'string',
      cell: (o) => {
        const ref = isRecord(o['involvedObject']) ? o['involvedObject'] : {};
        return `${String(ref['kind'] ?? '').toLowerCase()}/${String(ref['name'] ?? '')}`;
      },
    },
    { name: 'Message', type: 'string', cell: (o) => String(o['message'] ?? '') },
  ],
};

export function renderTable(def: ResourceDef, items: KubeObject[], resourceVersion: string): unknown {
  const columns = COLUMNS[def.kind] ?? [name, ageColumn];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: '',
      priority: c.priority ?? 0,
    })),
    rows: items.map((item) => ({
      cells: columns.map((c) => c.cell(item)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: item.metadata },
    })),
  };
}
