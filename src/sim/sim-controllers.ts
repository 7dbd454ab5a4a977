/**
 * The control loops of the sim: scheduler, kubelet (readiness, termination), ReplicaSet,
 * Deployment, StatefulSet, DaemonSet, garbage collector, namespace cleanup and the status
 * writers (workloads, PodDisruptionBudgets, HPAs). They run synchronously after every write
 * until nothing changes, so a client that reads right after a write sees the consequences;
 * only the configurable delays (pod readiness, graceful termination) run on timers.
 */
import { randomInt } from 'node:crypto';
import { defaultPod } from './defaults.js';
import type {
  Condition,
  KubeNode,
  KubeObject,
  Pod,
  PodDisruptionBudget,
  Taint,
  Toleration,
  Workload,
} from './kube-types.js';
import { controllerOf, deepCopy, isRecord } from './kube-types.js';
import { deepEqual } from './patch.js';
import { computePdbStatus } from './pdb.js';
import {
  annotationNumber,
  isActive,
  isFinished,
  isReady,
  isTerminating,
  runningStatus,
  scheduledStatus,
  SIM_ANNOTATIONS,
  unschedulableStatus,
} from './pod-status.js';
import { RESOURCES, resolveResource, type ResourceDef } from './resources.js';
import { formatLabelSelector, matchesLabelSelector } from './selectors.js';
import { kubeTime, type SimStore } from './sim-store.js';

export interface ControllerOptions {
  /** Delay from scheduling to Running+Ready; 0 = at once. */
  readyDelayMs: number;
  /** How long a gracefully deleted pod lingers as terminating; 0 = removed at once. */
  terminationDelayMs: number;
}

function def(name: string): ResourceDef {
  const found = resolveResource(name);
  if (!found) throw new Error(`sim: unknown resource ${name}`);
  return found;
}

export const PODS = def('pods');
export const NODES = def('nodes');
export const NAMESPACES = def('namespaces');
export const DEPLOYMENTS = def('deployments');
export const REPLICASETS = def('replicasets');
export const STATEFULSETS = def('statefulsets');
export const DAEMONSETS = def('daemonsets');
export const PDBS = def('poddisruptionbudgets');
export const HPAS = def('horizontalpodautoscalers');

/** The alphabet of k8s.io/apimachinery/pkg/util/rand: no vowels, no look-alikes. */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET[randomInt(SAFE_ALPHABET.length)];
  return out;
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * pod-template-hash: FNV-32a of the template, printed in decimal and mapped through the safe
 * alphabet like rand.SafeEncodeString, so names look like `llm-api-7d9f8b6c5`.
 */
export function templateHash(template: unknown): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(stableStringify(template))) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return [...String(hash)].map((ch) => SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

/** A StatefulSet's revision name for its current template (its pods' controller-revision-hash). */
function statefulSetRevision(sts: Workload): string {
  return `${sts.metadata.name}-${templateHash(sts.spec.template)}`;
}

function withoutHashLabel(template: unknown): unknown {
  const copy = deepCopy(template);
  if (isRecord(copy) && isRecord(copy['metadata']) && isRecord(copy['metadata']['labels'])) {
    delete copy['metadata']['labels']['pod-template-hash'];
    if (Object.keys(copy['metadata']['labels']).length === 0) delete copy['metadata']['labels'];
  }
  return copy;
}

function tolerates(tolerations: Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

function nodeIsReady(node: KubeNode): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function gpuQuantity(value: string | number | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

export function podGpuRequest(pod: Pod): number {
  let total = 0;
  for (const c of pod.spec?.containers ?? []) {
    const req = c.resources?.requests?.['nvidia.com/gpu'] ?? c.resources?.limits?.['nvidia.com/gpu'];
    total += gpuQuantity(req);
  }
  return total;
}

/** The tolerations the DaemonSet controller adds to every daemon pod. */
const DAEMON_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

export const UNSCHEDULABLE_TAINT_KEY = 'node.kubernetes.io/unschedulable';

/**
 * Keeps the `node.kubernetes.io/unschedulable:NoSchedule` taint in step with spec.unschedulable.
 * The node lifecycle controller does this moments after a cordon; the sim does it in the same
 * write so that the resourceVersion a cordon returns is not stale at once.
 */
export function syncUnschedulableTaint(node: KubeNode): void {
  node.spec ??= {};
  const taints = Array.isArray(node.spec.taints) ? node.spec.taints : [];
  const has = taints.some((t) => t.key === UNSCHEDULABLE_TAINT_KEY && t.effect === 'NoSchedule');
  if (node.spec.unschedulable === true && !has) {
    node.spec.taints = [...taints, { key: UNSCHEDULABLE_TAINT_KEY, effect: 'NoSchedule', timeAdded: kubeTime() }];
  } else if (node.spec.unschedulable !== true && has) {
    const rest = taints.filter((t) => !(t.key === UNSCHEDULABLE_TAINT_KEY && t.effect === 'NoSchedule'));
    if (rest.length > 0) node.spec.taints = rest;
    else delete node.spec.taints;
  }
}

/** Keeps condition timestamps when nothing about the condition changed, like real controllers. */
function mergeConditions(previous: Condition[] | undefined, next: Condition[]): Condition[] {
  return next.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    if (before && before.status === c.status && before.reason === c.reason) {
      return { ...c, lastTransitionTime: before.lastTransitionTime, lastUpdateTime: before.lastUpdateTime ?? c.lastUpdateTime };
    }
    if (before && before.status === c.status) return { ...c, lastTransitionTime: before.lastTransitionTime };
    return c;
  });
}

/** Omits zero counters, as Go's `omitempty` does for these status fields. */
function omitZero(status: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  for (const k of keys) if (status[k] === 0) delete status[k];
  return status;
}

export class SimControllers {
  private readonly readyTimers = new Map<string, NodeJS.Timeout>();
  private readonly terminationTimers = new Map<string, NodeJS.Timeout>();
  private readonly creationOrder = new Map<string, number>();
  private creationCounter = 0;
  private roundRobin = 0;
  private readonly ipCounters = new Map<string, number>();
  private running = false;
  private suspended = false;
  private closed = false;
  /** While seeding, pods become ready without waiting, so a fresh cluster starts settled. */
  private settling = false;

  constructor(
    private readonly store: SimStore,
    private readonly options: ControllerOptions,
  ) {}

  close(): void {
    this.closed = true;
    for (const t of this.readyTimers.values()) clearTimeout(t);
    for (const t of this.terminationTimers.values()) clearTimeout(t);
    this.readyTimers.clear();
    this.terminationTimers.clear();
  }

  /** Reconciles with every pending pod becoming ready at once (used for the seed). */
  settle(): void {
    this.settling = true;
    try {
      this.reconcile();
    } finally {
      this.settling = false;
    }
  }

  /** Stops reconciling until resume() (used while a seed is being installed). */
  suspend(): void {
    this.suspended = true;
  }

  resume(): void {
    this.suspended = false;
  }

  reconcile(): void {
    if (this.running || this.closed || this.suspended) return;
    this.running = true;
    try {
      // Each pass reacts to the previous one's writes; a bounded number guards against a loop.
      for (let pass = 0; pass < 50; pass++) {
        if (!this.pass()) break;
      }
    } finally {
      this.running = false;
    }
  }

  private pass(): boolean {
    let changed = false;
    changed = this.namespaceCleanup() || changed;
    changed = this.garbageCollect() || changed;
    changed = this.deployments() || changed;
    changed = this.replicaSets() || changed;
    changed = this.statefulSets() || changed;
    changed = this.daemonSets() || changed;
    changed = this.schedule() || changed;
    changed = this.kubelet() || changed;
    changed = this.workloadStatuses() || changed;
    changed = this.pdbStatuses() || changed;
    changed = this.hpaStatuses() || changed;
    return changed;
  }

  /** Orders pods for scale-down (newest first) independent of one-second timestamps. */
  private sequence(pod: KubeObject): number {
    const uid = pod.metadata.uid ?? '';
    let seq = this.creationOrder.get(uid);
    if (seq === undefined) {
      seq = ++this.creationCounter;
      this.creationOrder.set(uid, seq);
    }
    return seq;
  }

  private allPods(): Pod[] {
    return this.store.list(PODS) as Pod[];
  }

  private ownedPods(owner: KubeObject, pods: Pod[]): Pod[] {
    return pods.filter((p) => controllerOf(p)?.uid === owner.metadata.uid);
  }

  /** Stores a new pod (defaulted, with server metadata) and remembers its creation order. */
  storePod(pod: Pod): Pod {
    defaultPod(pod);
    const created = this.store.insert(PODS, this.store.prepareNew(PODS, pod)) as Pod;
    this.sequence(created);
    return created;
  }

  /** The labels a controller adds to the pods it creates, beyond the template's. */
  private ownerPodLabels(owner: Workload, podName: string): Record<string, string> {
    if (owner.kind === 'StatefulSet') {
      const ordinal = podName.slice((owner.metadata.name ?? '').length + 1);
      return {
        'apps.kubernetes.io/pod-index': ordinal,
        'controller-revision-hash': statefulSetRevision(owner),
        'statefulset.kubernetes.io/pod-name': podName,
      };
    }
    if (owner.kind === 'DaemonSet') {
      return {
        'controller-revision-hash': templateHash(owner.spec.template),
        'pod-template-generation': String(owner.metadata.generation ?? 1),
      };
    }
    return {};
  }

  /** The pod `owner`'s controller would create under `name` (not stored yet). */
  podFor(owner: Workload, name: string): Pod {
    const template = deepCopy(owner.spec.template ?? { spec: { containers: [] } });
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: owner.metadata.namespace,
        labels: { ...(template.metadata?.labels ?? {}), ...this.ownerPodLabels(owner, name) },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [
          {
            apiVersion: owner.apiVersion ?? 'apps/v1',
            kind: owner.kind ?? '',
            name: owner.metadata.name ?? '',
            uid: owner.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec,
    };
    if (owner.kind === 'ReplicaSet' || owner.kind === 'DaemonSet') pod.metadata.generateName = `${owner.metadata.name}-`;
    if (owner.kind === 'StatefulSet') {
      pod.spec['hostname'] = name;
      const service = owner.spec['serviceName'];
      if (typeof service === 'string' && service) pod.spec['subdomain'] = service;
    }
    if (owner.kind === 'DaemonSet') pod.spec.tolerations = [...(pod.spec.tolerations ?? []), ...DAEMON_TOLERATIONS.map((t) => ({ ...t }))];
    return pod;
  }

  /** The ReplicaSet a Deployment's controller creates for its current template (not stored). */
  replicaSetFor(d: Workload, hash: string, revision: string): Workload {
    const wanted = d.spec.replicas ?? 1;
    const template = deepCopy(d.spec.template ?? { spec: { containers: [] } });
    template.metadata = { ...(template.metadata ?? {}) };
    template.metadata.labels = { ...(template.metadata.labels ?? {}), 'pod-template-hash': hash };
    const selector = deepCopy(d.spec.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), 'pod-template-hash': hash };
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels: { ...(d.spec.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
        annotations: {
          'deployment.kubernetes.io/desired-replicas': String(wanted),
          'deployment.kubernetes.io/max-replicas': String(wanted + Math.ceil(wanted * 0.25)),
          'deployment.kubernetes.io/revision': revision,
        },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name ?? '', uid: d.metadata.uid ?? '', controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: { replicas: wanted, selector, template },
    };
  }

  private uniquePodName(prefix: string): string {
    for (;;) {
      const name = `${prefix}${randomSuffix()}`;
      if (!this.allPods().some((p) => p.metadata.name === name)) return name;
    }
  }

  // ---- pod deletion (also used by the API for DELETE and eviction) ----

  private terminationDelayFor(pod: Pod): number {
    return annotationNumber(pod, SIM_ANNOTATIONS.terminationDelayMs) ?? this.options.terminationDelayMs;
  }

  /**
   * Deletes a pod as the API server and kubelet together would: at once when the grace period
   * is 0, the pod never ran on a node, or no termination delay is configured; otherwise it is
   * marked terminating (deletionTimestamp) and disappears after the delay.
   */
  deletePod(pod: Pod, gracePeriodSeconds: number | undefined, dryRun = false): Pod {
    const grace = gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const delay = this.terminationDelayFor(pod);
    const marked = deepCopy(pod);
    if (!marked.metadata.deletionTimestamp) {
      marked.metadata.deletionTimestamp = kubeTime(new Date(Date.now() + grace * 1000));
      marked.metadata.deletionGracePeriodSeconds = grace;
    }
    const immediate = grace === 0 || delay <= 0 || !pod.spec?.nodeName || isFinished(pod);
    if (dryRun) return marked;
    if (immediate) {
      this.clearPodTimers(pod);
      this.store.remove(PODS, pod.metadata.namespace, pod.metadata.name ?? '');
      return marked;
    }
    if (isTerminating(pod)) return pod;
    const stored = this.store.replace(PODS, marked) as Pod;
    const uid = pod.metadata.uid ?? '';
    const timer = setTimeout(() => {
      this.terminationTimers.delete(uid);
      const current = this.store.get(PODS, pod.metadata.namespace, pod.metadata.name ?? '');
      if (current?.metadata.uid === uid) {
        this.clearPodTimers(current as Pod);
        this.store.remove(PODS, pod.metadata.namespace, pod.metadata.name ?? '');
        this.reconcile();
      }
    }, delay);
    timer.unref?.();
    this.terminationTimers.set(uid, timer);
    return stored;
  }

  private clearPodTimers(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    const ready = this.readyTimers.get(uid);
    if (ready) clearTimeout(ready);
    this.readyTimers.delete(uid);
  }

  /** Removes any object; pods go through deletePod so their termination is modelled. */
  deleteAny(resource: ResourceDef, obj: KubeObject): void {
    if (resource === PODS) this.deletePod(obj as Pod, undefined);
    else this.store.remove(resource, obj.metadata.namespace, obj.metadata.name ?? '');
  }

  // ---- namespace controller and garbage collector ----

  private namespaceCleanup(): boolean {
    let changed = false;
    for (const ns of this.store.list(NAMESPACES)) {
      if (!ns.metadata.deletionTimestamp) continue;
      for (const resource of RESOURCES) {
        if (!resource.namespaced) continue;
        for (const obj of this.store.list(resource, ns.metadata.name)) {
          if (resource === PODS) this.clearPodTimers(obj as Pod);
          this.store.remove(resource, obj.metadata.namespace, obj.metadata.name ?? '');
        }
      }
      this.store.remove(NAMESPACES, undefined, ns.metadata.name ?? '');
      changed = true;
    }
    return changed;
  }

  /**
   * Pod GC (pods bound to a node that no longer exists) and background cascading deletion
   * (dependents whose owners are all gone).
   */
  private garbageCollect(): boolean {
    let changed = false;
    const nodeNames = new Set(this.store.list(NODES).map((n) => n.metadata.name));
    for (const pod of this.allPods()) {
      if (pod.spec.nodeName && !nodeNames.has(pod.spec.nodeName)) {
        this.clearPodTimers(pod);
        this.store.remove(PODS, pod.metadata.namespace, pod.metadata.name ?? '');
        changed = true;
      }
    }
    const uids = new Set<string>();
    const everything: Array<[ResourceDef, KubeObject]> = [];
    for (const resource of RESOURCES) {
      for (const obj of this.store.list(resource)) {
        uids.add(obj.metadata.uid ?? '');
        everything.push([resource, obj]);
      }
    }
    for (const [resource, obj] of everything) {
      const owners = obj.metadata.ownerReferences ?? [];
      if (owners.length === 0 || obj.metadata.deletionTimestamp) continue;
      if (owners.some((o) => uids.has(o.uid))) continue;
      this.deleteAny(resource, obj);
      changed = true;
    }
    return changed;
  }

  // ---- workload controllers ----

  private deployments(): boolean {
    let changed = false;
    const replicaSets = this.store.list(REPLICASETS) as Workload[];
    for (const d of this.store.list(DEPLOYMENTS) as Workload[]) {
      if (d.metadata.deletionTimestamp) continue;
      const owned = replicaSets.filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
      const wanted = d.spec.replicas ?? 1;
      let current = owned.find((rs) => deepEqual(withoutHashLabel(rs.spec.template), d.spec.template));
      const revisions = owned.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0));
      if (!current) {
        const rs = this.replicaSetFor(d, templateHash(d.spec.template), String(Math.max(0, ...revisions) + 1));
        current = this.store.insert(REPLICASETS, this.store.prepareNew(REPLICASETS, rs)) as Workload;
        changed = true;
      } else if (current.spec.replicas !== wanted) {
        current.spec.replicas = wanted;
        current.metadata.annotations = {
          ...(current.metadata.annotations ?? {}),
          'deployment.kubernetes.io/desired-replicas': String(wanted),
          'deployment.kubernetes.io/max-replicas': String(wanted + Math.ceil(wanted * 0.25)),
        };
        current.metadata.generation = (current.metadata.generation ?? 1) + 1;
        this.store.replace(REPLICASETS, current);
        changed = true;
      }
      for (const old of owned) {
        if (old.metadata.uid === current.metadata.uid || old.spec.replicas === 0) continue;
        old.spec.replicas = 0;
        old.metadata.generation = (old.metadata.generation ?? 1) + 1;
        this.store.replace(REPLICASETS, old);
        changed = true;
      }
      const revision = current.metadata.annotations?.['deployment.kubernetes.io/revision'];
      if (revision && d.metadata.annotations?.['deployment.kubernetes.io/revision'] !== revision) {
        d.metadata.annotations = { ...(d.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': revision };
        this.store.replace(DEPLOYMENTS, d);
        changed = true;
      }
    }
    return changed;
  }

  /** Which surplus pods go first: unscheduled, then not running, then not ready, then newest. */
  private deletionRank(a: Pod, b: Pod): number {
    const score = (p: Pod) => [p.spec?.nodeName ? 1 : 0, p.status?.phase === 'Running' ? 1 : 0, isReady(p) ? 1 : 0];
    const [sa, sb] = [score(a), score(b)];
    for (let i = 0; i < sa.length; i++) {
      const diff = (sa[i] ?? 0) - (sb[i] ?? 0);
      if (diff !== 0) return diff;
    }
    return this.sequence(b) - this.sequence(a);
  }

  private replicaSets(): boolean {
    let changed = false;
    const pods = this.allPods();
    for (const rs of this.store.list(REPLICASETS) as Workload[]) {
      if (rs.metadata.deletionTimestamp) continue;
      const active = this.ownedPods(rs, pods).filter(isActive);
      const wanted = rs.spec.replicas ?? 1;
      if (active.length < wanted) {
        for (let i = active.length; i < wanted; i++) {
          this.storePod(this.podFor(rs, this.uniquePodName(`${rs.metadata.name}-`)));
        }
        changed = true;
      } else if (active.length > wanted) {
        const victims = [...active].sort((a, b) => this.deletionRank(a, b)).slice(0, active.length - wanted);
        for (const victim of victims) this.deletePod(victim, undefined);
        changed = true;
      }
    }
    return changed;
  }

  private statefulSets(): boolean {
    let changed = false;
    const pods = this.allPods();
    for (const sts of this.store.list(STATEFULSETS) as Workload[]) {
      if (sts.metadata.deletionTimestamp) continue;
      const name = sts.metadata.name ?? '';
      const ordered = sts.spec['podManagementPolicy'] !== 'Parallel';
      const owned = this.ownedPods(sts, pods);
      const byName = new Map(owned.map((p) => [p.metadata.name ?? '', p]));
      const wanted = sts.spec.replicas ?? 1;
      let blocked = false;
      for (let i = 0; i < wanted && !blocked; i++) {
        const podName = `${name}-${i}`;
        const existing = byName.get(podName);
        if (!existing) {
          // The pod name may still be held by a pod that is terminating; wait for it.
          if (this.store.get(PODS, sts.metadata.namespace, podName)) {
            blocked = ordered;
            continue;
          }
          this.storePod(this.podFor(sts, podName));
          changed = true;
          blocked = ordered;
        } else if (ordered && (!isReady(existing) || isTerminating(existing))) {
          // OrderedReady: ordinal i+1 waits until ordinal i is Running and Ready.
          blocked = true;
        }
      }
      const surplus = owned
        .filter((p) => {
          const ordinal = Number((p.metadata.name ?? '').slice(name.length + 1));
          return Number.isInteger(ordinal) && ordinal >= wanted && !isTerminating(p);
        })
        .sort((a, b) => Number((b.metadata.name ?? '').slice(name.length + 1)) - Number((a.metadata.name ?? '').slice(name.length + 1)));
      const terminating = owned.some(isTerminating);
      const toDelete = ordered ? (terminating ? [] : surplus.slice(0, 1)) : surplus;
      for (const victim of toDelete) {
        this.deletePod(victim, undefined);
        changed = true;
      }
      if (!terminating && toDelete.length === 0) changed = this.rollStatefulSet(sts, byName, wanted) || changed;
    }
    return changed;
  }

  /**
   * RollingUpdate of a StatefulSet's template (pkg/controller/statefulset, updateStatefulSet):
   * once every ordinal below `replicas` runs Ready and none is terminating, the highest ordinal
   * at or above the partition whose pod is of an older revision is deleted; the loop above
   * recreates it from the current template, and the next one goes once that pod is Ready.
   * OnDelete leaves the pods alone.
   */
  private rollStatefulSet(sts: Workload, byName: Map<string, Pod>, wanted: number): boolean {
    const strategy = isRecord(sts.spec['updateStrategy']) ? sts.spec['updateStrategy'] : {};
    if ((strategy['type'] ?? 'RollingUpdate') !== 'RollingUpdate') return false;
    const rolling = isRecord(strategy['rollingUpdate']) ? strategy['rollingUpdate'] : {};
    const partition = typeof rolling['partition'] === 'number' ? rolling['partition'] : 0;
    const name = sts.metadata.name ?? '';
    const revision = statefulSetRevision(sts);
    const pods: Pod[] = [];
    for (let i = 0; i < wanted; i++) {
      const pod = byName.get(`${name}-${i}`);
      if (!pod || isTerminating(pod) || !isReady(pod)) return false;
      pods.push(pod);
    }
    for (let i = wanted - 1; i >= partition; i--) {
      const pod = pods[i];
      if (pod && pod.metadata.labels?.['controller-revision-hash'] !== revision) {
        this.deletePod(pod, undefined);
        return true;
      }
    }
    return false;
  }

  private daemonSets(): boolean {
    let changed = false;
    const nodes = this.store.list(NODES) as KubeNode[];
    const pods = this.allPods();
    for (const ds of this.store.list(DAEMONSETS) as Workload[]) {
      if (ds.metadata.deletionTimestamp) continue;
      const owned = this.ownedPods(ds, pods).filter(isActive);
      const template = ds.spec.template;
      const tolerations = [...(template?.spec.tolerations ?? []), ...DAEMON_TOLERATIONS];
      for (const node of nodes) {
        const nodeName = node.metadata.name ?? '';
        const eligible =
          Object.entries(template?.spec.nodeSelector ?? {}).every(([k, v]) => node.metadata.labels?.[k] === v) &&
          (node.spec?.taints ?? []).filter((t) => t.effect !== 'PreferNoSchedule').every((t) => tolerates(tolerations, t));
        const here = owned.filter((p) => p.spec.nodeName === nodeName);
        if (eligible && here.length === 0) {
          const pod = this.podFor(ds, this.uniquePodName(`${ds.metadata.name}-`));
          pod.spec.nodeName = nodeName;
          this.storePod(pod);
          changed = true;
        }
        const extra = eligible ? here.slice(1) : here;
        for (const pod of extra) {
          this.deletePod(pod, undefined);
          changed = true;
        }
      }
      for (const pod of owned) {
        if (!nodes.some((n) => n.metadata.name === pod.spec.nodeName)) {
          this.deletePod(pod, undefined);
          changed = true;
        }
      }
    }
    return changed;
  }

  // ---- scheduler and kubelet ----

  private nodeFits(pod: Pod, node: KubeNode, pods: Pod[]): boolean {
    if (node.spec?.unschedulable || !nodeIsReady(node)) return false;
    const taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    if (!taints.every((t) => tolerates(pod.spec.tolerations ?? [], t))) return false;
    if (!Object.entries(pod.spec.nodeSelector ?? {}).every(([k, v]) => node.metadata.labels?.[k] === v)) return false;
    const gpus = podGpuRequest(pod);
    if (gpus > 0) {
      const allocatable = gpuQuantity(node.status?.allocatable?.['nvidia.com/gpu']);
      const used = pods
        .filter((p) => p.spec.nodeName === node.metadata.name && !isFinished(p) && p.metadata.uid !== pod.metadata.uid)
        .reduce((sum, p) => sum + podGpuRequest(p), 0);
      if (used + gpus > allocatable) return false;
    }
    return true;
  }

  private freeGpus(node: KubeNode, pods: Pod[]): number {
    const allocatable = gpuQuantity(node.status?.allocatable?.['nvidia.com/gpu']);
    const used = pods.filter((p) => p.spec.nodeName === node.metadata.name && !isFinished(p)).reduce((sum, p) => sum + podGpuRequest(p), 0);
    return allocatable - used;
  }

  /**
   * GPU pods go to the nodes with the most free GPUs (the scheduler's LeastAllocated scoring,
   * which keeps whole-node gaps for multi-GPU pods); ties and CPU-only pods go round-robin.
   */
  private pickNode(pod: Pod, fitting: KubeNode[], pods: Pod[]): KubeNode {
    let candidates = fitting;
    if (podGpuRequest(pod) > 0) {
      const free = fitting.map((n) => this.freeGpus(n, pods));
      const best = Math.max(...free);
      candidates = fitting.filter((_, i) => free[i] === best);
    }
    return candidates[this.roundRobin++ % candidates.length] as KubeNode;
  }

  private hostIP(node: KubeNode): string | undefined {
    return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  }

  private schedule(): boolean {
    let changed = false;
    const nodes = (this.store.list(NODES) as KubeNode[]).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    for (const pod of this.allPods()) {
      if (pod.spec.nodeName || !isActive(pod)) continue;
      const pods = this.allPods();
      const fitting = nodes.filter((n) => this.nodeFits(pod, n, pods));
      if (fitting.length === 0) {
        const message = `0/${nodes.length} nodes are available: no node satisfies the pod's requirements (unschedulable, taints, node selector or nvidia.com/gpu).`;
        const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
        if (scheduled?.message !== message) {
          pod.status = unschedulableStatus(pod, message);
          this.store.replace(PODS, pod);
          changed = true;
        }
        continue;
      }
      const node = this.pickNode(pod, fitting, pods);
      pod.spec.nodeName = node.metadata.name ?? '';
      pod.status = scheduledStatus(pod, this.hostIP(node));
      this.store.replace(PODS, pod);
      changed = true;
    }
    return changed;
  }

  private podIP(nodeName: string): string {
    const node = this.store.get(NODES, undefined, nodeName) as KubeNode | undefined;
    const cidr = typeof node?.spec?.['podCIDR'] === 'string' ? node.spec['podCIDR'] : '10.244.0.0/24';
    const base = cidr.split('/')[0]?.split('.').slice(0, 3).join('.') ?? '10.244.0';
    const next = (this.ipCounters.get(nodeName) ?? 1) + 1;
    this.ipCounters.set(nodeName, next > 254 ? 2 : next);
    return `${base}.${next}`;
  }

  /** Makes a bound pod Running and Ready (what the kubelet reports once probes pass). */
  markRunning(pod: Pod): Pod {
    const node = this.store.get(NODES, undefined, pod.spec.nodeName ?? '') as KubeNode | undefined;
    const hostIP = node ? this.hostIP(node) : undefined;
    // Host-network pods share the node's address.
    const ip = pod.spec['hostNetwork'] === true && hostIP ? hostIP : this.podIP(pod.spec.nodeName ?? '');
    pod.status = runningStatus(pod, ip);
    if (hostIP && !pod.status.hostIP) {
      pod.status.hostIP = hostIP;
      pod.status['hostIPs'] = [{ ip: hostIP }];
    }
    return this.store.replace(PODS, pod) as Pod;
  }

  private kubelet(): boolean {
    let changed = false;
    for (const pod of this.allPods()) {
      if (!pod.spec.nodeName || !isActive(pod) || pod.status?.phase !== 'Pending') continue;
      const uid = pod.metadata.uid ?? '';
      if (!pod.status?.containerStatuses) {
        // Bound by whoever created it (DaemonSet, a client): the kubelet picks it up.
        const node = this.store.get(NODES, undefined, pod.spec.nodeName) as KubeNode | undefined;
        pod.status = scheduledStatus(pod, node ? this.hostIP(node) : undefined);
        this.store.replace(PODS, pod);
        changed = true;
      }
      const delay = this.settling ? 0 : (annotationNumber(pod, SIM_ANNOTATIONS.readyDelayMs) ?? this.options.readyDelayMs);
      if (delay < 0 || this.readyTimers.has(uid)) continue;
      if (delay === 0) {
        this.markRunning(this.store.get(PODS, pod.metadata.namespace, pod.metadata.name ?? '') as Pod);
        changed = true;
        continue;
      }
      const timer = setTimeout(() => {
        this.readyTimers.delete(uid);
        const current = this.store.get(PODS, pod.metadata.namespace, pod.metadata.name ?? '') as Pod | undefined;
        if (current?.metadata.uid !== uid || !isActive(current) || current.status?.phase !== 'Pending') return;
        this.markRunning(current);
        this.reconcile();
      }, delay);
      timer.unref?.();
      this.readyTimers.set(uid, timer);
    }
    return changed;
  }

  // ---- status writers ----

  private writeStatus(resource: ResourceDef, obj: KubeObject, status: Record<string, unknown>): boolean {
    if (deepEqual(obj.status ?? {}, status)) return false;
    obj.status = status;
    this.store.replace(resource, obj);
    return true;
  }

  private workloadStatuses(): boolean {
    let changed = false;
    const pods = this.allPods();
    const replicaSets = this.store.list(REPLICASETS) as Workload[];
    for (const rs of replicaSets) {
      const owned = this.ownedPods(rs, pods).filter(isActive);
      const ready = owned.filter(isReady).length;
      const status = omitZero(
        {
          replicas: owned.length,
          fullyLabeledReplicas: owned.filter((p) => matchesLabelSelector(p.metadata.labels, rs.spec.selector)).length,
          readyReplicas: ready,
          availableReplicas: ready,
          observedGeneration: rs.metadata.generation ?? 1,
        },
        ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'],
      );
      changed = this.writeStatus(REPLICASETS, rs, status) || changed;
    }
    for (const d of this.store.list(DEPLOYMENTS) as Workload[]) {
      const owned = replicaSets.filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
      const current = owned.find((rs) => deepEqual(withoutHashLabel(rs.spec.template), d.spec.template));
      const ownedPods = owned.flatMap((rs) => this.ownedPods(rs, pods)).filter(isActive);
      const updated = current ? this.ownedPods(current, pods).filter(isActive).length : 0;
      const ready = ownedPods.filter(isReady).length;
      const wanted = d.spec.replicas ?? 1;
      const maxUnavailable = Math.floor(wanted * 0.25);
      const now = kubeTime();
      const available = ready >= wanted - maxUnavailable;
      const complete = updated === wanted && ready === wanted && ownedPods.length === wanted;
      const conditions: Condition[] = [
        {
          type: 'Available',
          status: available ? 'True' : 'False',
          lastUpdateTime: now,
          lastTransitionTime: now,
          reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          message: available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
        },
        {
          type: 'Progressing',
          status: 'True',
          lastUpdateTime: now,
          lastTransitionTime: now,
          reason: complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
          message: complete
            ? `ReplicaSet "${current?.metadata.name ?? ''}" has successfully progressed.`
            : `ReplicaSet "${current?.metadata.name ?? ''}" is progressing.`,
        },
      ];
      const status = omitZero(
        {
          observedGeneration: d.metadata.generation ?? 1,
          replicas: ownedPods.length,
          updatedReplicas: updated,
          readyReplicas: ready,
          availableReplicas: ready,
          unavailableReplicas: Math.max(0, wanted - ready),
          conditions: mergeConditions(d.status?.['conditions'] as Condition[] | undefined, conditions),
        },
        ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'],
      );
      changed = this.writeStatus(DEPLOYMENTS, d, status) || changed;
    }
    for (const sts of this.store.list(STATEFULSETS) as Workload[]) {
      // Unlike a ReplicaSet's, a StatefulSet's status counts its terminating pods (replicas, and
      // ready while they still run Ready) until they are gone; only current/updated leave them out
      // (computeReplicaStatus in pkg/controller/statefulset). A scale-down is done when they are.
      // updated/current count the pods of the update and current revision (their
      // controller-revision-hash); the current revision becomes the update revision once the
      // rollout is complete.
      const owned = this.ownedPods(sts, pods);
      const ready = owned.filter((p) => p.status?.phase === 'Running' && isReady(p)).length;
      const active = owned.filter((p) => !isTerminating(p));
      const revision = statefulSetRevision(sts);
      const revisionOf = (p: Pod) => p.metadata.labels?.['controller-revision-hash'];
      const updated = active.filter((p) => revisionOf(p) === revision).length;
      const wanted = sts.spec.replicas ?? 1;
      const previous = typeof sts.status?.['currentRevision'] === 'string' ? sts.status['currentRevision'] : revision;
      const rolledOut = updated === wanted && active.length === owned.length && owned.length === wanted && ready === wanted;
      const currentRevision = rolledOut ? revision : previous;
      const status = omitZero(
        {
          observedGeneration: sts.metadata.generation ?? 1,
          replicas: owned.length,
          readyReplicas: ready,
          currentReplicas: active.filter((p) => revisionOf(p) === currentRevision).length,
          updatedReplicas: updated,
          currentRevision,
          updateRevision: revision,
          collisionCount: 0,
          availableReplicas: ready,
        },
        ['readyReplicas', 'currentReplicas', 'updatedReplicas'],
      );
      changed = this.writeStatus(STATEFULSETS, sts, status) || changed;
    }
    for (const ds of this.store.list(DAEMONSETS) as Workload[]) {
      const owned = this.ownedPods(ds, pods).filter(isActive);
      const ready = owned.filter(isReady).length;
      const status = omitZero(
        {
          currentNumberScheduled: owned.length,
          numberMisscheduled: 0,
          desiredNumberScheduled: owned.length,
          numberReady: ready,
          observedGeneration: ds.metadata.generation ?? 1,
          updatedNumberScheduled: owned.length,
          numberAvailable: ready,
          numberUnavailable: owned.length - ready,
        },
        ['updatedNumberScheduled', 'numberAvailable', 'numberUnavailable'],
      );
      changed = this.writeStatus(DAEMONSETS, ds, status) || changed;
    }
    return changed;
  }

  private ownerLookup(): { byUid(uid: string): KubeObject | undefined } {
    const index = new Map<string, KubeObject>();
    for (const resource of [REPLICASETS, DEPLOYMENTS, STATEFULSETS, DAEMONSETS]) {
      for (const obj of this.store.list(resource)) index.set(obj.metadata.uid ?? '', obj);
    }
    return { byUid: (uid) => index.get(uid) };
  }

  private pdbStatuses(): boolean {
    let changed = false;
    const pods = this.allPods();
    const owners = this.ownerLookup();
    for (const pdb of this.store.list(PDBS) as PodDisruptionBudget[]) {
      const computed = computePdbStatus(pdb, pods, owners);
      const now = kubeTime();
      const allowed = computed.disruptionsAllowed > 0;
      const conditions = mergeConditions(pdb.status?.['conditions'] as Condition[] | undefined, [
        {
          type: 'DisruptionAllowed',
          status: allowed ? 'True' : 'False',
          reason: allowed ? 'SufficientPods' : 'InsufficientPods',
          message: '',
          observedGeneration: pdb.metadata.generation ?? 1,
          lastTransitionTime: now,
        },
      ]);
      const status = {
        observedGeneration: pdb.metadata.generation ?? 1,
        disruptionsAllowed: computed.disruptionsAllowed,
        currentHealthy: computed.currentHealthy,
        desiredHealthy: computed.desiredHealthy,
        expectedPods: computed.expectedPods,
        conditions,
      };
      changed = this.writeStatus(PDBS, pdb, status) || changed;
    }
    return changed;
  }

  /** HPAs are not driven by metrics here; their status mirrors the target so `kubectl get hpa` reads sensibly. */
  private hpaStatuses(): boolean {
    let changed = false;
    for (const hpa of this.store.list(HPAS)) {
      const ref = isRecord(hpa.spec?.['scaleTargetRef']) ? hpa.spec['scaleTargetRef'] : {};
      const kind = String(ref['kind'] ?? '');
      const resource = kind === 'StatefulSet' ? STATEFULSETS : kind === 'ReplicaSet' ? REPLICASETS : DEPLOYMENTS;
      const target = this.store.get(resource, hpa.metadata.namespace, String(ref['name'] ?? '')) as Workload | undefined;
      const current = typeof target?.status?.['replicas'] === 'number' ? target.status['replicas'] : 0;
      const status: Record<string, unknown> = {
        ...(hpa.status ?? {}),
        currentReplicas: current,
        desiredReplicas: target?.spec.replicas ?? 0,
      };
      changed = this.writeStatus(HPAS, hpa, status) || changed;
    }
    return changed;
  }

  /** `Scale.status.selector` for a workload. */
  static selectorString(w: Workload): string {
    return formatLabelSelector(w.spec?.selector);
  }
}
