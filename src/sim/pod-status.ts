/**
 * How a pod's status looks at each point of its life in the sim (scheduled, running and ready,
 * OOM-killed and restarted), and the predicates controllers, the PDB logic and eviction share.
 */
import { randomBytes } from 'node:crypto';
import type { Condition, ContainerStatus, Pod, PodStatus } from './kube-types.js';
import { isRecord } from './kube-types.js';
import { kubeTime } from './sim-store.js';

/** Annotations (on a pod or its template) that steer the sim's timing for that pod. */
export const SIM_ANNOTATIONS = {
  /** Milliseconds from scheduling to Running+Ready; "-1" = never becomes ready. */
  readyDelayMs: 'sim.remediator.dev/ready-delay-ms',
  /** Milliseconds a gracefully deleted pod stays (terminating) before it disappears. */
  terminationDelayMs: 'sim.remediator.dev/termination-delay-ms',
} as const;

export function annotationNumber(pod: Pod, key: string): number | undefined {
  const raw = pod.metadata.annotations?.[key];
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(Number(raw))) return undefined;
  return Number(raw);
}

export function isTerminating(pod: Pod): boolean {
  return Boolean(pod.metadata.deletionTimestamp);
}

export function isFinished(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Counts toward a controller's replicas (kubectl's and the controllers' "active" pods). */
export function isActive(pod: Pod): boolean {
  return !isTerminating(pod) && !isFinished(pod);
}

export function isReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function condition(type: string, status: 'True' | 'False', now: string, reason?: string, message?: string): Condition {
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: now,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

function imageRef(image: string | undefined): string {
  const img = image ?? 'unknown';
  const named = img.includes('/') ? img : `docker.io/library/${img}`;
  return `${named.split('@')[0]?.split(':')[0] ?? named}@sha256:${hex(32)}`;
}

/** A pod that has been bound to a node and waits for its containers. */
export function scheduledStatus(pod: Pod, hostIP: string | undefined): PodStatus {
  const now = kubeTime();
  const status: PodStatus = { ...(pod.status ?? {}) };
  status.phase = 'Pending';
  status.conditions = [
    condition('PodReadyToStartContainers', 'False', now),
    condition('Initialized', 'True', now),
    condition('Ready', 'False', now, 'ContainersNotReady', `containers with unready status: [${pod.spec.containers.map((c) => c.name).join(' ')}]`),
    condition('ContainersReady', 'False', now, 'ContainersNotReady', `containers with unready status: [${pod.spec.containers.map((c) => c.name).join(' ')}]`),
    condition('PodScheduled', 'True', now),
  ];
  if (hostIP) {
    status.hostIP = hostIP;
    status['hostIPs'] = [{ ip: hostIP }];
  }
  status.startTime = now;
  status.containerStatuses = pod.spec.containers.map((c) => ({
    name: c.name,
    image: c.image ?? '',
    imageID: '',
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason: 'ContainerCreating' } },
    lastState: {},
  }));
  return status;
}

/** A pod nobody can schedule, with the scheduler's explanation. */
export function unschedulableStatus(pod: Pod, message: string): PodStatus {
  const now = kubeTime();
  const status: PodStatus = { ...(pod.status ?? {}) };
  status.phase = 'Pending';
  status.conditions = [condition('PodScheduled', 'False', now, 'Unschedulable', message)];
  return status;
}

export function runningStatus(pod: Pod, podIP: string): PodStatus {
  const now = kubeTime();
  const status: PodStatus = { ...(pod.status ?? {}) };
  status.phase = 'Running';
  status.conditions = [
    condition('PodReadyToStartContainers', 'True', now),
    condition('Initialized', 'True', now),
    condition('Ready', 'True', now),
    condition('ContainersReady', 'True', now),
    condition('PodScheduled', 'True', now),
  ];
  status.podIP = podIP;
  status['podIPs'] = [{ ip: podIP }];
  status.startTime ??= now;
  const previous = new Map((status.containerStatuses ?? []).map((cs) => [cs.name, cs]));
  status.containerStatuses = pod.spec.containers.map((c): ContainerStatus => {
    const before = previous.get(c.name);
    const hasHistory = before && before.restartCount > 0;
    return {
      name: c.name,
      image: c.image ?? '',
      imageID: before?.imageID || imageRef(c.image),
      containerID: `containerd://${hex(32)}`,
      ready: true,
      started: true,
      restartCount: before?.restartCount ?? 0,
      state: { running: { startedAt: now } },
      lastState: hasHistory ? (before.lastState ?? {}) : {},
    };
  });
  return status;
}

/**
 * The status after the kubelet restarted a container killed by the OOM killer: running again,
 * `lastState.terminated.reason: OOMKilled`, exit code 137.
 */
export function withOomKill(status: PodStatus, container: string, restartCount: number): PodStatus {
  const out: PodStatus = { ...status };
  const finishedAt = new Date(Date.now() - 30_000);
  const startedAt = new Date(finishedAt.getTime() - 10 * 60_000);
  out.containerStatuses = (status.containerStatuses ?? []).map((cs) => {
    if (cs.name !== container) return cs;
    return {
      ...cs,
      restartCount: Math.max(1, restartCount),
      state: { running: { startedAt: kubeTime(new Date(finishedAt.getTime() + 1000)) } },
      lastState: {
        terminated: {
          exitCode: 137,
          reason: 'OOMKilled',
          startedAt: kubeTime(startedAt),
          finishedAt: kubeTime(finishedAt),
          containerID: `containerd://${hex(32)}`,
        },
      },
    };
  });
  return out;
}

export function containerNames(pod: Pod): string[] {
  return (pod.spec?.containers ?? []).filter(isRecord).map((c) => String(c['name']));
}
