/**
 * The defaults the real API server fills in on create, so that objects read back look like a
 * cluster's (clients and `kubectl describe` read several of these fields).
 */
import type { Container, KubeObject, Pod, PodSpec, Toleration, Workload } from './kube-types.js';
import { isRecord } from './kube-types.js';

const DEFAULT_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

function defaultContainer(c: Container): void {
  const image = typeof c.image === 'string' ? c.image : '';
  const tag = image.includes('@') ? 'digest' : (image.split('/').pop() ?? '').split(':')[1];
  c['imagePullPolicy'] ??= tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
  c['terminationMessagePath'] ??= '/dev/termination-log';
  c['terminationMessagePolicy'] ??= 'File';
  c.resources ??= {};
}

export function defaultPodSpec(spec: PodSpec): void {
  spec['restartPolicy'] ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['schedulerName'] ??= 'default-scheduler';
  spec['securityContext'] ??= {};
  spec['enableServiceLinks'] ??= true;
  for (const c of spec.containers ?? []) if (isRecord(c)) defaultContainer(c);
  for (const c of spec.initContainers ?? []) if (isRecord(c)) defaultContainer(c);
}

/** What the QoS class of a pod would be (pkg/apis/core/helper/qos). */
export function qosClass(spec: PodSpec): string {
  let anySet = false;
  let guaranteed = true;
  for (const c of spec.containers ?? []) {
    const limits = c.resources?.limits ?? {};
    const requests = c.resources?.requests ?? {};
    if (Object.keys(limits).length > 0 || Object.keys(requests).length > 0) anySet = true;
    for (const res of ['cpu', 'memory']) {
      const limit = limits[res];
      const request = requests[res] ?? limit;
      if (limit === undefined || String(limit) !== String(request)) guaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export function defaultPod(pod: Pod): void {
  pod.spec ??= { containers: [] };
  defaultPodSpec(pod.spec);
  pod.spec['serviceAccountName'] ??= 'default';
  pod.spec['serviceAccount'] ??= pod.spec['serviceAccountName'];
  pod.spec['priority'] ??= 0;
  pod.spec['preemptionPolicy'] ??= 'PreemptLowerPriority';
  const tolerations = pod.spec.tolerations ?? [];
  for (const t of DEFAULT_TOLERATIONS) {
    if (!tolerations.some((x) => x.key === t.key && x.effect === t.effect)) tolerations.push({ ...t });
  }
  pod.spec.tolerations = tolerations;
  const status = isRecord(pod.status) ? pod.status : {};
  status.phase ??= 'Pending';
  status.qosClass ??= qosClass(pod.spec);
  pod.status = status;
}

function defaultTemplate(w: Workload): void {
  const spec = w.spec.template?.spec;
  if (spec && isRecord(spec)) defaultPodSpec(spec);
}

export function defaultObject(kind: string, obj: KubeObject): void {
  switch (kind) {
    case 'Pod':
      defaultPod(obj as Pod);
      break;
    case 'Deployment': {
      const w = obj as Workload;
      w.spec ??= {};
      w.spec.replicas ??= 1;
      w.spec['revisionHistoryLimit'] ??= 10;
      w.spec['progressDeadlineSeconds'] ??= 600;
      w.spec['strategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
      defaultTemplate(w);
      break;
    }
    case 'StatefulSet': {
      const w = obj as Workload;
      w.spec ??= {};
      w.spec.replicas ??= 1;
      w.spec['podManagementPolicy'] ??= 'OrderedReady';
      w.spec['updateStrategy'] ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      w.spec['revisionHistoryLimit'] ??= 10;
      w.spec['persistentVolumeClaimRetentionPolicy'] ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      defaultTemplate(w);
      break;
    }
    case 'ReplicaSet': {
      const w = obj as Workload;
      w.spec ??= {};
      w.spec.replicas ??= 1;
      defaultTemplate(w);
      break;
    }
    case 'DaemonSet': {
      const w = obj as Workload;
      w.spec ??= {};
      w.spec['updateStrategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
      w.spec['revisionHistoryLimit'] ??= 10;
      defaultTemplate(w);
      break;
    }
    case 'Namespace': {
      obj.spec ??= {};
      obj.spec['finalizers'] ??= ['kubernetes'];
      obj.status = { phase: 'Active', ...(obj.status ?? {}) };
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      break;
    }
    default:
      break;
  }
}
