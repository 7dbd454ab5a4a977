/**
 * Which workload owns a pod: its controller followed up to the object an operator thinks of
 * (a ReplicaSet to its Deployment), with the target key that locks and cools it down and the
 * object to stamp. Shared by the playbooks that act on a pod's owner (restart-oom-pod,
 * raise-memory-limit). Read-only.
 */
import { podTarget, workloadTarget, type ClusterClient, type ObjectRef, type PodInfo } from '../src/engine/playbook.js';
import { isObjectName } from './label-params.js';

/** The owning workloads read while resolving, with their labels (for the opt-out precondition). */
export type OwnerLabels = { what: string; labels: Record<string, string> }[];

export type Owner = { workloads: OwnerLabels } & (
  | { target: string; ref?: ObjectRef; follow: 'same-name' }
  | { target: string; ref?: ObjectRef; follow: 'selector'; selector: Record<string, string> }
  | { target: string; ref?: ObjectRef; follow: 'none'; whyNotFollowed: string }
);

/**
 * The workload that owns the pod: its target key (locks, cooldowns), the object to stamp, and how
 * to recognise the replacement. Read-only.
 */
export async function resolveOwner(cluster: ClusterClient, pod: PodInfo): Promise<Owner> {
  const { namespace } = pod;
  const own = podTarget(namespace, pod.name);
  const controller = pod.controller;
  const workloads: OwnerLabels = [];
  const seen = <T extends { kind: string; name: string; labels: Record<string, string> }>(info: T | undefined): T | undefined => {
    if (info !== undefined) workloads.push({ what: `${info.kind} ${namespace}/${info.name}`, labels: info.labels });
    return info;
  };
  if (controller === undefined) return { workloads, target: own, follow: 'none', whyNotFollowed: 'the pod had no controller, nothing will replace it' };
  if (!isObjectName(controller.name)) {
    return { workloads, target: own, follow: 'none', whyNotFollowed: `replacement not checked (controller ${controller.kind} has an unusable name)` };
  }
  switch (controller.kind) {
    case 'StatefulSet':
      seen(await cluster.getWorkload('StatefulSet', namespace, controller.name));
      return {
        workloads,
        target: workloadTarget('StatefulSet', namespace, controller.name),
        ref: { kind: 'StatefulSet', namespace, name: controller.name },
        follow: 'same-name',
      };
    case 'ReplicaSet': {
      const rs = seen(await cluster.getWorkload('ReplicaSet', namespace, controller.name));
      const deployment = rs?.controller;
      if (deployment?.kind === 'Deployment' && isObjectName(deployment.name)) {
        const info = seen(await cluster.getWorkload('Deployment', namespace, deployment.name));
        const ref: ObjectRef = { kind: 'Deployment', namespace, name: deployment.name };
        const target = workloadTarget('Deployment', namespace, deployment.name);
        if (info !== undefined && hasSelector(info.selector)) return { workloads, target, ref, follow: 'selector', selector: info.selector };
        return { workloads, target, ref, follow: 'none', whyNotFollowed: `replacement not checked (Deployment ${deployment.name} not readable)` };
      }
      if (rs !== undefined && hasSelector(rs.selector)) {
        return { workloads, target: own, ref: { kind: 'ReplicaSet', namespace, name: rs.name }, follow: 'selector', selector: rs.selector };
      }
      return { workloads, target: own, follow: 'none', whyNotFollowed: `replacement not checked (ReplicaSet ${controller.name} not readable)` };
    }
    case 'DaemonSet': {
      const ds = seen(await cluster.getWorkload('DaemonSet', namespace, controller.name));
      if (ds !== undefined && hasSelector(ds.selector)) {
        return { workloads, target: own, ref: { kind: 'DaemonSet', namespace, name: ds.name }, follow: 'selector', selector: ds.selector };
      }
      return { workloads, target: own, follow: 'none', whyNotFollowed: `replacement not checked (DaemonSet ${controller.name} not readable)` };
    }
    default:
      return { workloads, target: own, follow: 'none', whyNotFollowed: `replacement not checked (controller ${controller.kind}/${controller.name})` };
  }
}

/** An empty selector would match every pod of the namespace. */
export function hasSelector(selector: Record<string, string>): boolean {
  return Object.keys(selector).length > 0;
}
