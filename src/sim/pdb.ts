/**
 * PodDisruptionBudget arithmetic as the disruption controller does it
 * (pkg/controller/disruption/disruption.go `getExpectedPodCount`, `countHealthyPods`).
 */
import type { KubeObject, Pod, PodDisruptionBudget, PdbStatus, Workload } from './kube-types.js';
import { controllerOf } from './kube-types.js';
import { isReady, isTerminating } from './pod-status.js';
import { matchesLabelSelector } from './selectors.js';

/** Looks up the controller objects a pod count is derived from. */
export interface OwnerLookup {
  byUid(uid: string): KubeObject | undefined;
}

function scaledValue(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const pct = Number(value.replace('%', ''));
  // GetScaledValueFromIntOrPercent(..., roundUp=true), as both PDB fields use it.
  return Math.ceil((pct * total) / 100);
}

export function podsSelectedBy(pdb: PodDisruptionBudget, pods: Pod[]): Pod[] {
  return pods.filter(
    (p) => p.metadata.namespace === pdb.metadata.namespace && matchesLabelSelector(p.metadata.labels, pdb.spec?.selector),
  );
}

/**
 * The expected pod count is the controllers' desired replicas when the budget is relative
 * (maxUnavailable or a percentage), and the number of selected pods for an absolute minAvailable.
 */
function expectedPods(pdb: PodDisruptionBudget, pods: Pod[], owners: OwnerLookup): number {
  const min = pdb.spec?.minAvailable;
  if (min !== undefined && typeof min === 'number') return pods.length;
  const counted = new Map<string, number>();
  for (const pod of pods) {
    const ref = controllerOf(pod);
    if (!ref) continue;
    let owner = owners.byUid(ref.uid);
    if (!owner) continue;
    // A ReplicaSet's scale is decided by its Deployment, as the real controller resolves it.
    const parentRef = owner.kind === 'ReplicaSet' ? controllerOf(owner) : undefined;
    const parent = parentRef?.kind === 'Deployment' ? owners.byUid(parentRef.uid) : undefined;
    if (parent) owner = parent;
    const replicas = owner.kind === 'DaemonSet' ? undefined : (owner as Workload).spec?.replicas;
    counted.set(owner.metadata.uid ?? '', typeof replicas === 'number' ? replicas : 1);
  }
  let total = 0;
  for (const n of counted.values()) total += n;
  return total;
}

export function computePdbStatus(pdb: PodDisruptionBudget, allPodsInNamespace: Pod[], owners: OwnerLookup): PdbStatus {
  const pods = podsSelectedBy(pdb, allPodsInNamespace);
  const expected = expectedPods(pdb, pods, owners);
  const currentHealthy = pods.filter((p) => !isTerminating(p) && isReady(p)).length;
  let desiredHealthy = 0;
  const { minAvailable, maxUnavailable } = pdb.spec ?? {};
  if (maxUnavailable !== undefined) {
    desiredHealthy = Math.max(0, expected - scaledValue(maxUnavailable, expected));
  } else if (minAvailable !== undefined) {
    desiredHealthy = scaledValue(minAvailable, expected);
  }
  return {
    disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy),
    currentHealthy,
    desiredHealthy,
    expectedPods: expected,
  };
}
