import type * as k8s from '@kubernetes/client-node';
import type {
  ContainerInfo,
  NodeInfo,
  OwnerInfo,
  PodInfo,
  ScaleInfo,
  Taint,
  WorkloadInfo,
  WorkloadKind,
  WorkloadStatus,
} from './cluster-client.js';

/**
 * Conversions from client-node wire objects to the port's domain types. Kept apart from the
 * adapter so that no client-node type leaks past `src/kube/`.
 */

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

const DECIMAL_SUFFIX: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/**
 * A Kubernetes resource quantity as a number; NaN when unparseable. Extended resources such as
 * GPUs are integers in practice, but the schema allows any quantity string, so a malformed or
 * suffixed value must not read as "no GPUs" by accident.
 */
export function parseQuantity(value: string | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/.exec(value.trim());
  if (!match) return Number.NaN;
  const mantissa = Number(match[1]) * (match[2] ? 10 ** Number(match[2]) : 1);
  const suffix = match[3] ?? '';
  return mantissa * (BINARY_SUFFIX[suffix] ?? DECIMAL_SUFFIX[suffix] ?? Number.NaN);
}

function requestsGpu(resources: k8s.V1ResourceRequirements | undefined): boolean {
  // The API server validates quantities, so NaN (which compares false) only comes from a broken fake.
  return parseQuantity(resources?.requests?.[GPU_RESOURCE]) > 0 || parseQuantity(resources?.limits?.[GPU_RESOURCE]) > 0;
}

function toIso(value: Date | string | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return value;
}

export function controllerOf(meta: k8s.V1ObjectMeta | undefined): OwnerInfo | undefined {
  const ref = meta?.ownerReferences?.find((owner) => owner.controller === true);
  if (!ref) return undefined;
  return { kind: ref.kind, name: ref.name, ...(ref.uid ? { uid: ref.uid } : {}) };
}

function toContainerInfo(status: k8s.V1ContainerStatus, specs: readonly k8s.V1Container[]): ContainerInfo {
  const spec = specs.find((container) => container.name === status.name);
  const info: ContainerInfo = {
    name: status.name,
    restartCount: status.restartCount ?? 0,
    requestsGpu: spec ? requestsGpu(spec.resources) : false,
  };
  const current = status.state?.terminated?.reason;
  const last = status.lastState?.terminated?.reason;
  if (current) info.currentTerminationReason = current;
  if (last) info.lastTerminationReason = last;
  return info;
}

export function toPodInfo(pod: k8s.V1Pod): PodInfo {
  const meta = pod.metadata ?? {};
  const annotations = meta.annotations ?? {};
  const specs = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  const info: PodInfo = {
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    labels: meta.labels ?? {},
    annotations,
    isMirror: MIRROR_POD_ANNOTATION in annotations,
    hasEmptyDir: (pod.spec?.volumes ?? []).some((volume) => volume.emptyDir !== undefined && volume.emptyDir !== null),
    requestsGpu: specs.some((container) => requestsGpu(container.resources)),
    containers: statuses.map((status) => toContainerInfo(status, specs)),
  };
  const controller = controllerOf(meta);
  if (controller) info.controller = controller;
  if (pod.spec?.nodeName) info.nodeName = pod.spec.nodeName;
  const createdAt = toIso(meta.creationTimestamp);
  if (createdAt) info.createdAt = createdAt;
  return info;
}

function toTaint(taint: k8s.V1Taint): Taint {
  const result: Taint = { key: taint.key, effect: taint.effect as Taint['effect'] };
  if (taint.value !== undefined && taint.value !== null) result.value = taint.value;
  const timeAdded = toIso(taint.timeAdded);
  if (timeAdded) result.timeAdded = timeAdded;
  return result;
}

/** Taints as they go on the wire: `timeAdded` stays an RFC 3339 string (the patch body is untyped). */
export function toWireTaint(taint: Taint): Record<string, string> {
  const wire: Record<string, string> = { key: taint.key, effect: taint.effect };
  if (taint.value !== undefined) wire.value = taint.value;
  if (taint.timeAdded !== undefined) wire.timeAdded = taint.timeAdded;
  return wire;
}

export function toNodeInfo(node: k8s.V1Node): NodeInfo {
  const meta = node.metadata ?? {};
  const gpus = parseQuantity(node.status?.allocatable?.[GPU_RESOURCE]);
  return {
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    unschedulable: node.spec?.unschedulable === true,
    taints: (node.spec?.taints ?? []).map(toTaint),
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    // An unreadable quantity counts as no GPUs, so requireGpu refuses the node rather than guessing.
    allocatableGpus: Number.isFinite(gpus) ? gpus : 0,
  };
}

export function toScaleInfo(kind: WorkloadKind, scale: k8s.V1Scale): ScaleInfo {
  return {
    kind,
    namespace: scale.metadata?.namespace ?? '',
    name: scale.metadata?.name ?? '',
    replicas: scale.spec?.replicas ?? 0,
    statusReplicas: scale.status?.replicas ?? 0,
    resourceVersion: scale.metadata?.resourceVersion ?? '',
  };
}

interface WireWorkload {
  metadata?: k8s.V1ObjectMeta;
  spec?: { selector?: k8s.V1LabelSelector };
}

export function toWorkloadInfo(kind: WorkloadInfo['kind'], workload: WireWorkload): WorkloadInfo {
  const meta = workload.metadata ?? {};
  const info: WorkloadInfo = {
    kind,
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    selector: workload.spec?.selector?.matchLabels ?? {},
  };
  const controller = controllerOf(meta);
  if (controller) info.controller = controller;
  return info;
}

/** The fields of a Deployment or StatefulSet a rollout is judged by. */
export interface WireRollout {
  metadata?: k8s.V1ObjectMeta;
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
}

export function toWorkloadStatus(workload: WireRollout): WorkloadStatus {
  const status = workload.status ?? {};
  return {
    // The API server defaults spec.replicas to 1 for both kinds.
    replicas: workload.spec?.replicas ?? 1,
    generation: workload.metadata?.generation ?? 0,
    observedGeneration: status.observedGeneration ?? 0,
    statusReplicas: status.replicas ?? 0,
    updatedReplicas: status.updatedReplicas ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
  };
}
