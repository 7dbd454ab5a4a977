import type * as k8s from '@kubernetes/client-node';
import type {
  ContainerInfo,
  NodeInfo,
  OwnerInfo,
  PodInfo,
  PodTemplateInfo,
  ScaleInfo,
  Taint,
  TemplateContainer,
  WorkloadInfo,
  WorkloadKind,
  WorkloadStatus,
} from './cluster-client.js';
import { memoryBytes, parseQuantity } from '../domain/quantity.js';

export { parseQuantity };

/**
 * Conversions from client-node wire objects to the port's domain types. Kept apart from the
 * adapter so that no client-node type leaks past `src/kube/`.
 */

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

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

/** The fields of a Deployment or StatefulSet its pod template's memory resources are read from. */
export interface WireTemplated {
  metadata?: k8s.V1ObjectMeta;
  spec?: { template?: k8s.V1PodTemplateSpec };
}

function toTemplateContainer(container: k8s.V1Container): TemplateContainer {
  const info: TemplateContainer = { name: container.name };
  const limit = container.resources?.limits?.['memory'];
  const request = container.resources?.requests?.['memory'];
  if (limit !== undefined && limit !== null) {
    info.memoryLimit = String(limit);
    const bytes = memoryBytes(limit);
    if (bytes !== undefined) info.memoryLimitBytes = bytes;
  }
  if (request !== undefined && request !== null) {
    info.memoryRequest = String(request);
    const bytes = memoryBytes(request);
    if (bytes !== undefined) info.memoryRequestBytes = bytes;
  }
  return info;
}

export function toPodTemplateInfo(kind: WorkloadKind, workload: WireTemplated): PodTemplateInfo {
  const meta = workload.metadata ?? {};
  return {
    kind,
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    generation: meta.generation ?? 0,
    labels: meta.labels ?? {},
    containers: (workload.spec?.template?.spec?.containers ?? []).map(toTemplateContainer),
  };
}
