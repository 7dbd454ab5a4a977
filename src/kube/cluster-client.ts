/**
 * The narrow port through which playbooks touch Kubernetes. Domain types only: the client-node
 * adapter converts wire objects at the edge and maps API failures to `KubeApiError`
 * (409/429/5xx retryable, the rest permanent). Reads of a missing object return `undefined`.
 * Every mutation takes `{dryRun}`; when true it is sent with `dryRun=All`.
 */
export type WorkloadKind = 'Deployment' | 'StatefulSet';
export type ObjectKind = 'Node' | 'Pod' | 'Deployment' | 'StatefulSet' | 'ReplicaSet' | 'DaemonSet' | 'Namespace';

export interface ObjectRef {
  kind: ObjectKind;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface MutationOptions {
  dryRun: boolean;
}

export interface ScaleInfo {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  replicas: number;
  statusReplicas: number;
  resourceVersion: string;
}

/**
 * A Deployment's or StatefulSet's rollout as its controller last reported it. Status fields the
 * server omits (Go's `omitempty` drops zero counters) read as 0.
 */
export interface WorkloadStatus {
  /** spec.replicas: how many pods the workload should run. */
  replicas: number;
  /** metadata.generation: bumped by the API server on every spec change, a scale included. */
  generation: number;
  /** status.observedGeneration: the generation the controller's status describes. */
  observedGeneration: number;
  /** status.replicas: pods the controller counts now (terminating pods excluded). */
  statusReplicas: number;
  /** status.updatedReplicas: pods of the current template (revision). */
  updatedReplicas: number;
  readyReplicas: number;
  /** status.availableReplicas: Ready for at least minReadySeconds. */
  availableReplicas: number;
}

export interface ContainerInfo {
  name: string;
  /** `state.terminated.reason`, if the container is terminated now. */
  currentTerminationReason?: string;
  /** `lastState.terminated.reason`, if it was terminated before. */
  lastTerminationReason?: string;
  restartCount: number;
  requestsGpu: boolean;
}

export interface OwnerInfo {
  kind: string;
  name: string;
  uid?: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  nodeName?: string;
  phase: string;
  ready: boolean;
  terminating: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The controller ownerReference, if any. */
  controller?: OwnerInfo;
  isMirror: boolean;
  hasEmptyDir: boolean;
  requestsGpu: boolean;
  containers: ContainerInfo[];
  createdAt?: string;
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

export interface NodeInfo {
  name: string;
  uid: string;
  resourceVersion: string;
  unschedulable: boolean;
  taints: Taint[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  allocatableGpus: number;
}

export interface WorkloadInfo {
  kind: WorkloadKind | 'ReplicaSet' | 'DaemonSet';
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  controller?: OwnerInfo;
  /** matchLabels of spec.selector. */
  selector: Record<string, string>;
}

/** One container of a workload's pod template (`spec.template.spec.containers[]`) and its memory resources. */
export interface TemplateContainer {
  name: string;
  /** `resources.limits.memory` as the server returned it (e.g. `64Mi`), when set. */
  memoryLimit?: string;
  /** The limit in bytes (rounded up, like the server's Quantity.Value()); set when memoryLimit parses. */
  memoryLimitBytes?: number;
  /** `resources.requests.memory` as the server returned it, when set. */
  memoryRequest?: string;
  memoryRequestBytes?: number;
}

/** A Deployment's or StatefulSet's pod template, as far as raise-memory-limit reads it. */
export interface PodTemplateInfo {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid: string;
  /** The precondition a patch of the template carries (409 when stale). */
  resourceVersion: string;
  /** metadata.generation: a template change bumps it and starts a rollout. */
  generation: number;
  labels: Record<string, string>;
  containers: TemplateContainer[];
}

/** A new memory limit (and, when it must follow, request) for one container of a pod template. */
export interface MemoryLimitChange {
  container: string;
  /** A quantity, e.g. `96Mi`. */
  limit: string;
  /** Set only when the request has to change too (it would exceed the new limit). */
  request?: string;
}

export interface EventSpec {
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  /** The Event's name; a deterministic name makes a resent create a 409 instead of a second Event. */
  name?: string;
}

export interface ClusterClient {
  getScale(kind: WorkloadKind, namespace: string, name: string): Promise<ScaleInfo | undefined>;
  /** Merge-patches spec.replicas with a resourceVersion precondition (409 when stale). */
  patchScale(kind: WorkloadKind, namespace: string, name: string, replicas: number, resourceVersion: string, opts: MutationOptions): Promise<ScaleInfo>;
  /** Name of an HPA (autoscaling/v2) whose scaleTargetRef is this workload, if any. */
  findHpaFor(kind: WorkloadKind, namespace: string, name: string): Promise<string | undefined>;
  getWorkload(kind: WorkloadInfo['kind'], namespace: string, name: string): Promise<WorkloadInfo | undefined>;
  /** The workload's spec.replicas, generation and rollout status (what `kubectl rollout status` reads). */
  getWorkloadStatus(kind: WorkloadKind, namespace: string, name: string): Promise<WorkloadStatus | undefined>;
  getNamespaceLabels(namespace: string): Promise<Record<string, string> | undefined>;
  /** The workload's resourceVersion, generation and its pod template's containers with their memory resources. */
  getPodTemplate(kind: WorkloadKind, namespace: string, name: string): Promise<PodTemplateInfo | undefined>;
  /**
   * Strategic-merge patch of one container's memory limit (and request, when given) in
   * spec.template, with a resourceVersion precondition in the body (409 when stale; 422 for an
   * invalid quantity or a request above the limit). A real change bumps the generation and
   * starts a rollout. `annotations` are set in the same patch (the raise and the stamp that says
   * who made it land together or not at all).
   */
  setMemoryLimit(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    change: MemoryLimitChange,
    resourceVersion: string,
    opts: MutationOptions & { annotations?: Record<string, string> },
  ): Promise<PodTemplateInfo>;

  getPod(namespace: string, name: string): Promise<PodInfo | undefined>;
  listPods(namespace: string, labelSelector: Record<string, string>): Promise<PodInfo[]>;
  listPodsOnNode(node: string): Promise<PodInfo[]>;
  /** Eviction API (PDBs honoured). 404 → 'gone'; 429 → KubeApiError(429). */
  evictPod(namespace: string, name: string, uid: string, opts: MutationOptions & { gracePeriodSeconds?: number }): Promise<'evicted' | 'gone'>;
  /**
   * `status.disruptionsAllowed` of a PodDisruptionBudget (policy/v1); undefined when it is gone.
   * drain-gpu-node retries an eviction the budget refused as soon as this is positive again.
   */
  getDisruptionsAllowed(namespace: string, name: string): Promise<number | undefined>;
  /** DELETE with a uid precondition. 404 → 'gone'. */
  deletePod(namespace: string, name: string, uid: string, opts: MutationOptions & { gracePeriodSeconds?: number }): Promise<'deleted' | 'gone'>;

  getNode(name: string): Promise<NodeInfo | undefined>;
  /**
   * Merge patch of spec.unschedulable; `annotations` are set in the same patch (a
   * cordon and the stamp that says who made it land together or not at all).
   */
  setUnschedulable(name: string, unschedulable: boolean, opts: MutationOptions & { annotations?: Record<string, string> }): Promise<NodeInfo>;
  /** Replaces spec.taints with a resourceVersion precondition (callers read-modify-write). */
  replaceNodeTaints(name: string, taints: Taint[], resourceVersion: string, opts: MutationOptions): Promise<NodeInfo>;
  listNodes(): Promise<NodeInfo[]>;

  /** Merge-patches one annotation on the object. */
  annotate(ref: ObjectRef, key: string, value: string, opts: MutationOptions): Promise<void>;
  /** Creates a core/v1 Event about the object (cluster-scoped objects: namespace `default`). */
  createEvent(ref: ObjectRef, event: EventSpec, opts: MutationOptions): Promise<void>;
  /** Whether the Event with this name exists (the namespace `createEvent` used for the object). */
  eventExists(namespace: string, name: string): Promise<boolean>;

  /** GET /version; used by readiness. */
  ping(): Promise<string>;
}
