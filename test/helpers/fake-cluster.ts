/**
 * In-memory ClusterClient for unit tests. Holds nodes, pods, workloads with a scale, HPAs and
 * namespaces; records every call (mutations with their dryRun flag); lets a test inject faults
 * (a failure on the next call, a concurrent write just before a call, PDB refusals) and plays
 * the controllers' part: a removed pod owned by a ReplicaSet, StatefulSet or DaemonSet gets a
 * replacement. Reads return copies, so a playbook holding an object sees it go stale as in life.
 *
 * Rollout status (`getWorkloadStatus`): a Deployment or StatefulSet whose pods the fake holds
 * reports them (not terminating → replicas and updated, Ready → ready and available); one set up
 * without pods is taken as settled at its spec, so a scale is available at once. `holdRollout`
 * overrides what the controllers report, for some reads or for good.
 *
 * Pod templates (`getPodTemplate`, `setMemoryLimit`): each Deployment or StatefulSet has its
 * containers' memory limit and request (`templates`); the workload's resourceVersion is its
 * scale's, a template change bumps it and the generation, a stale one is a 409, an unparseable
 * quantity or a request above the limit a 422. `setContainerMemory` is a concurrent writer.
 */
import { KubeApiError } from '../../src/domain/errors.js';
import { memoryBytes } from '../../src/domain/quantity.js';
import type {
  ClusterClient,
  EventSpec,
  MemoryLimitChange,
  MutationOptions,
  NodeInfo,
  ObjectRef,
  PodInfo,
  PodTemplateInfo,
  ScaleInfo,
  Taint,
  TemplateContainer,
  WorkloadInfo,
  WorkloadKind,
  WorkloadStatus,
} from '../../src/kube/cluster-client.js';

type Method = keyof ClusterClient;

export interface FakeCall {
  method: Method;
  args: unknown[];
  /** Set for mutations only. */
  dryRun?: boolean;
}

export interface FakeClusterOptions {
  /** Clock for creation timestamps (share the fake context's clock). */
  now?: () => number;
}

export interface RecordedEvent {
  ref: ObjectRef;
  event: EventSpec;
  dryRun: boolean;
}

/** A pod template container as a test writes it: quantities only, the fake adds the byte counts. */
export interface ContainerSpec {
  name: string;
  memoryLimit?: string;
  memoryRequest?: string;
}

/** Status fields a test may pin with `holdRollout`. */
export type HeldRollout = Partial<Omit<WorkloadStatus, 'replicas' | 'generation'>>;

const MUTATIONS: readonly Method[] = [
  'patchScale',
  'evictPod',
  'deletePod',
  'setUnschedulable',
  'replaceNodeTaints',
  'setMemoryLimit',
  'annotate',
  'createEvent',
];

export class FakeCluster implements ClusterClient {
  readonly calls: FakeCall[] = [];
  readonly events: RecordedEvent[] = [];
  readonly nodes = new Map<string, NodeInfo>();
  readonly pods = new Map<string, PodInfo>();
  readonly workloads = new Map<string, WorkloadInfo>();
  readonly scales = new Map<string, ScaleInfo>();
  readonly hpas = new Map<string, string>();
  /** Pod template containers of Deployments and StatefulSets (their resourceVersion is the scale's). */
  readonly templates = new Map<string, ContainerSpec[]>();
  readonly namespaces = new Map<string, Record<string, string>>();
  /** Whether controllers recreate removed pods. */
  autoReplace = true;
  /** Reads (getPod/listPods) before a replacement turns Ready; Infinity = never. */
  replacementReadyAfterReads = 0;

  private readonly now: () => number;
  private resourceVersion = 1000;
  private uidCounter = 0;
  private readonly failures = new Map<Method, Error[]>();
  private readonly hooks = new Map<Method, (() => void)[]>();
  private readonly pdbRefusals = new Map<string, number>();
  private readonly refusingBudgets = new Map<string, string>();
  private readonly lingering = new Map<string, number>();
  private readonly unready = new Map<string, number>();
  /** metadata.generation of the workloads with a scale, bumped by every change of spec.replicas. */
  private readonly generations = new Map<string, number>();
  private readonly heldRollouts = new Map<string, { status: HeldRollout; reads: number }>();

  constructor(options: FakeClusterOptions = {}) {
    this.now = options.now ?? (() => Date.now());
  }

  // ---- building the world ----------------------------------------------------------------

  addNode(node: Partial<NodeInfo> & { name: string }): NodeInfo {
    const full: NodeInfo = {
      uid: this.uid('node'),
      resourceVersion: this.nextRv(),
      unschedulable: false,
      taints: [],
      labels: {},
      annotations: {},
      allocatableGpus: 8,
      ...node,
    };
    this.nodes.set(full.name, full);
    return clone(full);
  }

  addPod(pod: Partial<PodInfo> & { namespace: string; name: string }): PodInfo {
    const full: PodInfo = {
      uid: this.uid('pod'),
      resourceVersion: this.nextRv(),
      phase: 'Running',
      ready: true,
      terminating: false,
      labels: {},
      annotations: {},
      isMirror: false,
      hasEmptyDir: false,
      requestsGpu: false,
      containers: [{ name: 'main', restartCount: 0, requestsGpu: false }],
      createdAt: new Date(this.now()).toISOString(),
      ...pod,
    };
    this.pods.set(podKey(full.namespace, full.name), full);
    return clone(full);
  }

  addWorkload(workload: Partial<WorkloadInfo> & Pick<WorkloadInfo, 'kind' | 'namespace' | 'name'>): WorkloadInfo {
    const full: WorkloadInfo = { uid: this.uid('workload'), labels: {}, annotations: {}, selector: {}, ...workload };
    this.workloads.set(workloadKey(full.kind, full.namespace, full.name), full);
    return clone(full);
  }

  /** A Deployment with its current ReplicaSet and scale; pods are added with `addPodOf`. */
  addDeployment(namespace: string, name: string, options: { replicas?: number; labels?: Record<string, string>; containers?: ContainerSpec[] } = {}): {
    deployment: WorkloadInfo;
    replicaSet: WorkloadInfo;
  } {
    const selector = { app: name };
    const deployment = this.addWorkload({ kind: 'Deployment', namespace, name, selector, labels: options.labels ?? {} });
    const replicaSet = this.addWorkload({
      kind: 'ReplicaSet',
      namespace,
      name: `${name}-7d9f8b6c5`,
      selector: { ...selector, 'pod-template-hash': '7d9f8b6c5' },
      controller: { kind: 'Deployment', name, uid: deployment.uid },
    });
    this.setScale('Deployment', namespace, name, options.replicas ?? 1);
    this.templates.set(workloadKey('Deployment', namespace, name), clone(options.containers ?? [{ name: 'main' }]));
    return { deployment, replicaSet };
  }

  addStatefulSet(namespace: string, name: string, options: { replicas?: number; labels?: Record<string, string>; containers?: ContainerSpec[] } = {}): WorkloadInfo {
    const workload = this.addWorkload({ kind: 'StatefulSet', namespace, name, selector: { app: name }, labels: options.labels ?? {} });
    this.setScale('StatefulSet', namespace, name, options.replicas ?? 1);
    this.templates.set(workloadKey('StatefulSet', namespace, name), clone(options.containers ?? [{ name: 'main' }]));
    return workload;
  }

  /** Concurrent writer: changes a template container's memory (undefined leaves a value, null removes it), bumping resourceVersion and generation. */
  setContainerMemory(kind: WorkloadKind, namespace: string, name: string, container: string, memory: { limit?: string | null; request?: string | null }): void {
    const key = workloadKey(kind, namespace, name);
    const c = this.templates.get(key)?.find((x) => x.name === container);
    const scale = this.scales.get(key);
    if (c === undefined || scale === undefined) throw new Error(`fake: no container ${container} in ${key}`);
    if (memory.limit === null) delete c.memoryLimit;
    else if (memory.limit !== undefined) c.memoryLimit = memory.limit;
    if (memory.request === null) delete c.memoryRequest;
    else if (memory.request !== undefined) c.memoryRequest = memory.request;
    scale.resourceVersion = this.nextRv();
    this.generations.set(key, (this.generations.get(key) ?? 1) + 1);
  }

  /** A pod owned by `owner` (ReplicaSet, StatefulSet or DaemonSet), carrying its selector labels. */
  addPodOf(owner: WorkloadInfo, name: string, pod: Partial<PodInfo> = {}): PodInfo {
    return this.addPod({
      namespace: owner.namespace,
      name,
      labels: { ...owner.selector, ...pod.labels },
      controller: { kind: owner.kind, name: owner.name, uid: owner.uid },
      ...withoutLabels(pod),
    });
  }

  setScale(kind: WorkloadKind, namespace: string, name: string, replicas: number): void {
    const key = workloadKey(kind, namespace, name);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.scales.set(key, {
      kind,
      namespace,
      name,
      replicas,
      statusReplicas: replicas,
      resourceVersion: this.nextRv(),
    });
  }

  addHpa(kind: WorkloadKind, namespace: string, name: string, hpa: string): void {
    this.hpas.set(workloadKey(kind, namespace, name), hpa);
  }

  setNamespaceLabels(namespace: string, labels: Record<string, string>): void {
    this.namespaces.set(namespace, labels);
  }

  /** Concurrent writer: changes the node and bumps its resourceVersion. */
  updateNode(name: string, change: (node: NodeInfo) => void): void {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`fake: no node ${name}`);
    change(node);
    node.resourceVersion = this.nextRv();
  }

  // ---- fault injection ---------------------------------------------------------------------

  /** The next `times` calls of `method` throw `error` (after being recorded). */
  failNext(method: Method, error: Error, times = 1): void {
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.failures.set(method, queue);
  }

  /** Runs `hook` right before the next call of `method` is served: a concurrent writer. */
  beforeNext(method: Method, hook: () => void): void {
    const queue = this.hooks.get(method) ?? [];
    queue.push(hook);
    this.hooks.set(method, queue);
  }

  /**
   * Evictions of this pod get 429 (a PodDisruptionBudget allows no disruption) `times` times; with
   * `budget`, the 429's cause names it as the API server does.
   */
  refuseEviction(namespace: string, name: string, times = Infinity, budget?: string): void {
    this.pdbRefusals.set(podKey(namespace, name), times);
    if (budget !== undefined) this.refusingBudgets.set(podKey(namespace, name), budget);
  }

  allowEviction(namespace: string, name: string): void {
    this.pdbRefusals.delete(podKey(namespace, name));
  }

  /** After its eviction or deletion the pod stays (terminating) for this many getPod reads. */
  lingerAfterRemoval(namespace: string, name: string, reads = Infinity): void {
    this.lingering.set(podKey(namespace, name), reads);
  }

  /**
   * For the next `reads` status reads of the workload (Infinity = for good) its controllers report
   * `status` instead of what they would compute: a rollout that stalls, or a status not yet
   * updated for the latest generation.
   */
  holdRollout(kind: WorkloadKind, namespace: string, name: string, status: HeldRollout, reads = Infinity): void {
    this.heldRollouts.set(workloadKey(kind, namespace, name), { status, reads });
  }

  // ---- inspection --------------------------------------------------------------------------

  mutations(): FakeCall[] {
    return this.calls.filter((c) => c.dryRun !== undefined);
  }

  callsOf(method: Method): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  // ---- ClusterClient -----------------------------------------------------------------------

  async getScale(kind: WorkloadKind, namespace: string, name: string): Promise<ScaleInfo | undefined> {
    this.enter('getScale', [kind, namespace, name]);
    return cloneOrUndefined(this.scales.get(workloadKey(kind, namespace, name)));
  }

  async patchScale(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
    opts: MutationOptions,
  ): Promise<ScaleInfo> {
    this.enter('patchScale', [kind, namespace, name, replicas, resourceVersion], opts.dryRun);
    const resource = `${kind.toLowerCase()}s/scale`;
    const scale = this.scales.get(workloadKey(kind, namespace, name));
    if (scale === undefined) throw new KubeApiError(404, 'NotFound', `${kind} ${name} not found`, 'patch', resource);
    if (scale.resourceVersion !== resourceVersion) {
      throw new KubeApiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version', 'patch', resource);
    }
    if (opts.dryRun) return { ...scale, replicas };
    const key = workloadKey(kind, namespace, name);
    this.generations.set(key, (this.generations.get(key) ?? 1) + 1);
    scale.replicas = replicas;
    scale.resourceVersion = this.nextRv();
    return clone(scale);
  }

  async findHpaFor(kind: WorkloadKind, namespace: string, name: string): Promise<string | undefined> {
    this.enter('findHpaFor', [kind, namespace, name]);
    return this.hpas.get(workloadKey(kind, namespace, name));
  }

  async getWorkload(kind: WorkloadInfo['kind'], namespace: string, name: string): Promise<WorkloadInfo | undefined> {
    this.enter('getWorkload', [kind, namespace, name]);
    return cloneOrUndefined(this.workloads.get(workloadKey(kind, namespace, name)));
  }

  async getWorkloadStatus(kind: WorkloadKind, namespace: string, name: string): Promise<WorkloadStatus | undefined> {
    this.enter('getWorkloadStatus', [kind, namespace, name]);
    const key = workloadKey(kind, namespace, name);
    const scale = this.scales.get(key);
    if (scale === undefined) return undefined;
    const generation = this.generations.get(key) ?? 1;
    const pods = this.podsOfWorkload(kind, namespace, name).filter((p) => !p.terminating);
    const running = pods.length > 0 ? pods.length : scale.replicas;
    const ready = pods.length > 0 ? pods.filter((p) => p.ready).length : scale.replicas;
    const computed: WorkloadStatus = {
      replicas: scale.replicas,
      generation,
      observedGeneration: generation,
      statusReplicas: running,
      updatedReplicas: running,
      readyReplicas: ready,
      availableReplicas: ready,
    };
    const held = this.heldRollouts.get(key);
    if (held === undefined) return computed;
    if (held.reads - 1 <= 0) this.heldRollouts.delete(key);
    else held.reads -= 1;
    return { ...computed, ...held.status };
  }

  async getPodTemplate(kind: WorkloadKind, namespace: string, name: string): Promise<PodTemplateInfo | undefined> {
    this.enter('getPodTemplate', [kind, namespace, name]);
    const key = workloadKey(kind, namespace, name);
    const info = this.templateInfo(key);
    return info === undefined ? undefined : clone(info);
  }

  async setMemoryLimit(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    change: MemoryLimitChange,
    resourceVersion: string,
    opts: MutationOptions & { annotations?: Record<string, string> },
  ): Promise<PodTemplateInfo> {
    this.enter('setMemoryLimit', [kind, namespace, name, clone(change), resourceVersion, ...(opts.annotations ? [clone(opts.annotations)] : [])], opts.dryRun);
    const resource = `${kind.toLowerCase()}s`;
    const key = workloadKey(kind, namespace, name);
    const scale = this.scales.get(key);
    const containers = this.templates.get(key);
    if (scale === undefined || containers === undefined) throw new KubeApiError(404, 'NotFound', `${resource} "${name}" not found`, 'patch', resource);
    if (scale.resourceVersion !== resourceVersion) {
      throw new KubeApiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version', 'patch', resource);
    }
    const next = clone(containers);
    const c = next.find((x) => x.name === change.container);
    if (c === undefined) {
      // Strategic merge adds an element the list lacks; without an image the server refuses it.
      throw new KubeApiError(422, 'Invalid', `spec.template.spec.containers[${next.length}].image: Required value`, 'patch', resource);
    }
    c.memoryLimit = change.limit;
    if (change.request !== undefined) c.memoryRequest = change.request;
    const limit = memoryBytes(c.memoryLimit);
    const request = memoryBytes(c.memoryRequest);
    if (limit === undefined || (c.memoryRequest !== undefined && request === undefined)) {
      throw new KubeApiError(422, 'Invalid', "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", 'patch', resource);
    }
    if (request !== undefined && request > limit) {
      throw new KubeApiError(422, 'Invalid', `resources.requests[memory]: Invalid value: "${c.memoryRequest}": must be less than or equal to memory limit of ${c.memoryLimit}`, 'patch', resource);
    }
    if (opts.dryRun) return clone(this.templateInfo(key, next)!);
    if (JSON.stringify(next) !== JSON.stringify(containers)) {
      this.templates.set(key, next);
      scale.resourceVersion = this.nextRv();
      this.generations.set(key, (this.generations.get(key) ?? 1) + 1);
    }
    const workload = this.workloads.get(key);
    if (opts.annotations && workload) Object.assign(workload.annotations, opts.annotations);
    return clone(this.templateInfo(key)!);
  }

  async getNamespaceLabels(namespace: string): Promise<Record<string, string> | undefined> {
    this.enter('getNamespaceLabels', [namespace]);
    return cloneOrUndefined(this.namespaces.get(namespace) ?? {});
  }

  async getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    this.enter('getPod', [namespace, name]);
    this.tickReads();
    const key = podKey(namespace, name);
    const pod = this.pods.get(key);
    if (pod?.terminating && this.lingering.has(key)) {
      const left = this.lingering.get(key)! - 1;
      if (left <= 0) {
        this.lingering.delete(key);
        this.removePod(pod);
        return cloneOrUndefined(this.pods.get(key));
      }
      this.lingering.set(key, left);
    }
    return cloneOrUndefined(pod);
  }

  async listPods(namespace: string, labelSelector: Record<string, string>): Promise<PodInfo[]> {
    this.enter('listPods', [namespace, labelSelector]);
    this.tickReads();
    return [...this.pods.values()]
      .filter((p) => p.namespace === namespace && Object.entries(labelSelector).every(([k, v]) => p.labels[k] === v))
      .map(clone);
  }

  async listPodsOnNode(node: string): Promise<PodInfo[]> {
    this.enter('listPodsOnNode', [node]);
    return [...this.pods.values()].filter((p) => p.nodeName === node).map(clone);
  }

  async evictPod(
    namespace: string,
    name: string,
    uid: string,
    opts: MutationOptions & { gracePeriodSeconds?: number },
  ): Promise<'evicted' | 'gone'> {
    this.enter('evictPod', [namespace, name, uid, { gracePeriodSeconds: opts.gracePeriodSeconds }], opts.dryRun);
    const key = podKey(namespace, name);
    const pod = this.pods.get(key);
    if (pod === undefined) return 'gone';
    this.checkUid(pod, uid, 'create', 'pods/eviction');
    // A dry-run eviction still evaluates the PDB (platform facts §2.3).
    const refusals = this.pdbRefusals.get(key) ?? 0;
    if (refusals > 0) {
      this.pdbRefusals.set(key, refusals - 1);
      const budget = this.refusingBudgets.get(key);
      const causes = budget === undefined ? [] : [{ reason: 'DisruptionBudget', message: `The disruption budget ${budget} needs 3 healthy pods and has 3 currently` }];
      throw new KubeApiError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", 'create', 'pods/eviction', undefined, causes);
    }
    if (!opts.dryRun) this.startRemoval(pod);
    return 'evicted';
  }

  /** PodDisruptionBudgets by namespace/name: their `disruptionsAllowed` (setDisruptionsAllowed). */
  private readonly budgets = new Map<string, number>();

  setDisruptionsAllowed(namespace: string, name: string, allowed: number): void {
    this.budgets.set(podKey(namespace, name), allowed);
  }

  async getDisruptionsAllowed(namespace: string, name: string): Promise<number | undefined> {
    this.enter('getDisruptionsAllowed', [namespace, name]);
    return this.budgets.get(podKey(namespace, name));
  }

  async deletePod(
    namespace: string,
    name: string,
    uid: string,
    opts: MutationOptions & { gracePeriodSeconds?: number },
  ): Promise<'deleted' | 'gone'> {
    this.enter('deletePod', [namespace, name, uid, { gracePeriodSeconds: opts.gracePeriodSeconds }], opts.dryRun);
    const pod = this.pods.get(podKey(namespace, name));
    if (pod === undefined) return 'gone';
    this.checkUid(pod, uid, 'delete', 'pods');
    if (!opts.dryRun) this.startRemoval(pod);
    return 'deleted';
  }

  async getNode(name: string): Promise<NodeInfo | undefined> {
    this.enter('getNode', [name]);
    return cloneOrUndefined(this.nodes.get(name));
  }

  async setUnschedulable(name: string, unschedulable: boolean, opts: MutationOptions & { annotations?: Record<string, string> }): Promise<NodeInfo> {
    this.enter('setUnschedulable', opts.annotations ? [name, unschedulable, clone(opts.annotations)] : [name, unschedulable], opts.dryRun);
    const node = this.requireNode(name, 'patch');
    if (opts.dryRun) return { ...clone(node), unschedulable, annotations: { ...node.annotations, ...opts.annotations } };
    node.unschedulable = unschedulable;
    Object.assign(node.annotations, opts.annotations ?? {});
    node.resourceVersion = this.nextRv();
    return clone(node);
  }

  async replaceNodeTaints(name: string, taints: Taint[], resourceVersion: string, opts: MutationOptions): Promise<NodeInfo> {
    this.enter('replaceNodeTaints', [name, clone(taints), resourceVersion], opts.dryRun);
    const node = this.requireNode(name, 'update');
    if (node.resourceVersion !== resourceVersion) {
      throw new KubeApiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version', 'update', 'nodes');
    }
    if (opts.dryRun) return { ...clone(node), taints: clone(taints) };
    node.taints = clone(taints);
    node.resourceVersion = this.nextRv();
    return clone(node);
  }

  async listNodes(): Promise<NodeInfo[]> {
    this.enter('listNodes', []);
    return [...this.nodes.values()].map(clone);
  }

  async annotate(ref: ObjectRef, key: string, value: string, opts: MutationOptions): Promise<void> {
    this.enter('annotate', [ref, key, value], opts.dryRun);
    if (opts.dryRun) return;
    const target =
      ref.kind === 'Node'
        ? this.nodes.get(ref.name)
        : ref.kind === 'Pod'
          ? this.pods.get(podKey(ref.namespace ?? '', ref.name))
          : ref.kind === 'Namespace'
            ? undefined
            : this.workloads.get(workloadKey(ref.kind, ref.namespace ?? '', ref.name));
    if (target === undefined) throw new KubeApiError(404, 'NotFound', `${ref.kind} ${ref.name} not found`, 'patch', ref.kind.toLowerCase());
    target.annotations[key] = value;
  }

  async createEvent(ref: ObjectRef, event: EventSpec, opts: MutationOptions): Promise<void> {
    this.enter('createEvent', [ref, event], opts.dryRun);
    if (!opts.dryRun && event.name !== undefined && this.events.some((e) => !e.dryRun && e.event.name === event.name)) {
      throw new KubeApiError(409, 'AlreadyExists', `events "${event.name}" already exists`, 'create', 'events');
    }
    this.events.push({ ref, event, dryRun: opts.dryRun });
  }

  async eventExists(_namespace: string, name: string): Promise<boolean> {
    this.enter('eventExists', [name]);
    return this.events.some((e) => !e.dryRun && e.event.name === name);
  }

  async ping(): Promise<string> {
    this.enter('ping', []);
    return 'v1.32.0';
  }

  // ---- internals ---------------------------------------------------------------------------

  private enter(method: Method, args: unknown[], dryRun?: boolean): void {
    const call: FakeCall = MUTATIONS.includes(method) ? { method, args, dryRun: dryRun ?? false } : { method, args };
    this.calls.push(call);
    const hook = this.hooks.get(method)?.shift();
    hook?.();
    const failure = this.failures.get(method)?.shift();
    if (failure !== undefined) throw failure;
  }

  private templateInfo(key: string, containers = this.templates.get(key)): PodTemplateInfo | undefined {
    const scale = this.scales.get(key);
    const workload = this.workloads.get(key);
    if (scale === undefined || containers === undefined) return undefined;
    return {
      kind: scale.kind,
      namespace: scale.namespace,
      name: scale.name,
      uid: workload?.uid ?? '',
      resourceVersion: scale.resourceVersion,
      generation: this.generations.get(key) ?? 1,
      labels: { ...(workload?.labels ?? {}) },
      containers: containers.map(toTemplateContainer),
    };
  }

  private checkUid(pod: PodInfo, uid: string, verb: string, resource: string): void {
    if (pod.uid !== uid) {
      throw new KubeApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.uid}`, verb, resource);
    }
  }

  private requireNode(name: string, verb: string): NodeInfo {
    const node = this.nodes.get(name);
    if (node === undefined) throw new KubeApiError(404, 'NotFound', `nodes "${name}" not found`, verb, 'nodes');
    return node;
  }

  private startRemoval(pod: PodInfo): void {
    const key = podKey(pod.namespace, pod.name);
    if (this.lingering.has(key)) {
      pod.terminating = true;
      return;
    }
    this.removePod(pod);
  }

  /** The pod is gone; its controller (if it has one the fake plays) creates a replacement. */
  private removePod(pod: PodInfo): void {
    this.pods.delete(podKey(pod.namespace, pod.name));
    const owner = pod.controller;
    if (!this.autoReplace || owner === undefined || !['ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(owner.kind)) return;
    const name = owner.kind === 'StatefulSet' ? pod.name : `${owner.name}-r${++this.uidCounter}`;
    const replacement = this.addPod({
      namespace: pod.namespace,
      name,
      labels: { ...pod.labels },
      controller: { ...owner },
      containers: pod.containers.map((c) => ({ name: c.name, restartCount: 0, requestsGpu: c.requestsGpu })),
      requestsGpu: pod.requestsGpu,
      hasEmptyDir: pod.hasEmptyDir,
      ready: this.replacementReadyAfterReads === 0,
      ...(owner.kind === 'DaemonSet' && pod.nodeName !== undefined ? { nodeName: pod.nodeName } : {}),
    });
    if (!replacement.ready) this.unready.set(podKey(replacement.namespace, replacement.name), this.replacementReadyAfterReads);
  }

  /** A StatefulSet's pods, or a Deployment's through its ReplicaSets. */
  private podsOfWorkload(kind: WorkloadKind, namespace: string, name: string): PodInfo[] {
    const owners = new Set<string>();
    if (kind === 'StatefulSet') owners.add(`StatefulSet/${name}`);
    for (const w of this.workloads.values()) {
      if (kind === 'Deployment' && w.kind === 'ReplicaSet' && w.namespace === namespace && w.controller?.kind === 'Deployment' && w.controller.name === name) {
        owners.add(`ReplicaSet/${w.name}`);
      }
    }
    return [...this.pods.values()].filter((p) => p.namespace === namespace && p.controller !== undefined && owners.has(`${p.controller.kind}/${p.controller.name}`));
  }

  private tickReads(): void {
    for (const [key, left] of this.unready) {
      if (left - 1 > 0) {
        this.unready.set(key, left - 1);
        continue;
      }
      this.unready.delete(key);
      const pod = this.pods.get(key);
      if (pod !== undefined) pod.ready = true;
    }
  }

  private nextRv(): string {
    this.resourceVersion += 1;
    return String(this.resourceVersion);
  }

  private uid(kind: string): string {
    this.uidCounter += 1;
    return `${kind}-uid-${this.uidCounter}`;
  }
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function workloadKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function cloneOrUndefined<T>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : clone(value);
}

function toTemplateContainer(spec: ContainerSpec): TemplateContainer {
  const c: TemplateContainer = { name: spec.name };
  if (spec.memoryLimit !== undefined) {
    c.memoryLimit = spec.memoryLimit;
    const bytes = memoryBytes(spec.memoryLimit);
    if (bytes !== undefined) c.memoryLimitBytes = bytes;
  }
  if (spec.memoryRequest !== undefined) {
    c.memoryRequest = spec.memoryRequest;
    const bytes = memoryBytes(spec.memoryRequest);
    if (bytes !== undefined) c.memoryRequestBytes = bytes;
  }
  return c;
}

function withoutLabels(pod: Partial<PodInfo>): Partial<PodInfo> {
  const { labels: _labels, ...rest } = pod;
  return rest;
}
