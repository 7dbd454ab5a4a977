import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { KubeApiError, PermanentError } from '../domain/errors.js';
import { VERSION } from '../version.js';
import { assertNamespace, assertObjectName } from '../domain/target.js';
import type {
  ClusterClient,
  EventSpec,
  MemoryLimitChange,
  MutationOptions,
  NodeInfo,
  ObjectKind,
  ObjectRef,
  PodInfo,
  PodTemplateInfo,
  ScaleInfo,
  Taint,
  WorkloadInfo,
  WorkloadKind,
  WorkloadStatus,
} from './cluster-client.js';
import { KubeRequestExecutor, type KubeRequestObserver, type KubeSend } from './kube-request-executor.js';
import {
  toNodeInfo,
  toPodInfo,
  toPodTemplateInfo,
  toScaleInfo,
  toWireTaint,
  toWorkloadInfo,
  toWorkloadStatus,
  type WireRollout,
  type WireTemplated,
} from './wire-to-domain.js';

export interface ClientNodeClusterOptions {
  kc: k8s.KubeConfig;
  requestTimeoutMs: number;
  observe?: KubeRequestObserver;
  /** Recorded in managedFields of every write; defaults to `remediator`. */
  fieldManager?: string;
}

const COMPONENT = 'remediator';
/** kubectl's default chunk size for lists (`--chunk-size`). */
const LIST_CHUNK = 500;
const DRY_RUN_ALL = 'All';
const EVENT_NAME_MAX = 253;
const EVENT_MESSAGE_MAX = 1024;

const API_VERSION: Record<ObjectKind, string> = {
  Node: 'v1',
  Pod: 'v1',
  Namespace: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  DaemonSet: 'apps/v1',
};

const RESOURCE: Record<ObjectKind, string> = {
  Node: 'nodes',
  Pod: 'pods',
  Namespace: 'namespaces',
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  ReplicaSet: 'replicasets',
  DaemonSet: 'daemonsets',
};

const CLUSTER_SCOPED: ReadonlySet<ObjectKind> = new Set(['Node', 'Namespace']);

interface ListPage<T> {
  items: T[];
  metadata?: { _continue?: string };
}

function dryRunParam(opts: MutationOptions): string | undefined {
  return opts.dryRun ? DRY_RUN_ALL : undefined;
}

function labelSelectorString(labels: Record<string, string>): string | undefined {
  const parts = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}

/** `<object>.<hex nanoseconds>`, like client-go's recorder, kept within the name length limit. */
function eventName(objectName: string): string {
  const nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  const suffix = `.${nanos.toString(16)}`;
  return `${objectName.slice(0, EVENT_NAME_MAX - suffix.length)}${suffix}`;
}

function isUidPreconditionConflict(err: KubeApiError): boolean {
  return err.code === 409 && /precondition/i.test(err.message) && /uid/i.test(err.message);
}

/** The strategic-merge patch body of a memory limit change. */
function memoryLimitPatch(change: MemoryLimitChange, resourceVersion: string, annotations?: Record<string, string>): Record<string, unknown> {
  const resources = {
    limits: { memory: change.limit },
    ...(change.request !== undefined ? { requests: { memory: change.request } } : {}),
  };
  const metadata = { resourceVersion, ...(annotations ? { annotations } : {}) };
  return { metadata, spec: { template: { spec: { containers: [{ name: change.container, resources }] } } } };
}

function requireNamespace(ref: ObjectRef): string {
  if (!ref.namespace) throw new PermanentError(`${ref.kind} ${ref.name} needs a namespace`);
  return ref.namespace;
}

/** A namespaced object's path names: see assertRef. */
function assertNamespaced(namespace: string, name: string): void {
  assertNamespace(namespace);
  assertObjectName(name, 'name');
}

/**
 * The last check before a request: every name that reaches a Kubernetes path is a valid
 * namespace (DNS label) or object name (DNS subdomain), so no value from an alert (`../x`, `a/b`,
 * 300 characters) can steer or widen a request, whoever called.
 */
function assertRef(ref: ObjectRef): void {
  if (ref.namespace !== undefined) assertNamespace(ref.namespace);
  assertObjectName(ref.name, `${ref.kind} name`);
}

/**
 * ClusterClient over @kubernetes/client-node 1.4. Every request goes through one executor
 * (timeout, metrics observer, error mapping); wire objects become domain types before they
 * leave this class.
 */
export class ClientNodeCluster implements ClusterClient {
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly autoscaling: k8s.AutoscalingV2Api;
  private readonly policy: k8s.PolicyV1Api;
  private readonly version: k8s.VersionApi;
  private readonly exec: KubeRequestExecutor;
  private readonly fieldManager: string;
  private readonly instance: string;

  constructor(options: ClientNodeClusterOptions) {
    const { kc } = options;
    if (!kc.getCurrentCluster()) throw new PermanentError('kubeconfig has no usable current cluster');
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api);
    this.policy = kc.makeApiClient(k8s.PolicyV1Api);
    this.version = kc.makeApiClient(k8s.VersionApi);
    this.exec = new KubeRequestExecutor({
      requestTimeoutMs: options.requestTimeoutMs,
      userAgent: `${COMPONENT}/${VERSION} (${hostname()}; pid ${process.pid})`,
      ...(options.observe ? { observe: options.observe } : {}),
    });
    this.fieldManager = options.fieldManager ?? COMPONENT;
    // reportingInstance is limited to 128 characters.
    this.instance = hostname().slice(0, 128);
  }

  // ---- workloads -------------------------------------------------------------------------

  async getScale(kind: WorkloadKind, namespace: string, name: string): Promise<ScaleInfo | undefined> {
    assertNamespaced(namespace, name);
    const resource = `${RESOURCE[kind]}/scale`;
    const scale = await this.orUndefined(
      this.exec.run('get', resource, (o) =>
        kind === 'Deployment'
          ? this.apps.readNamespacedDeploymentScaleWithHttpInfo({ namespace, name }, o)
          : this.apps.readNamespacedStatefulSetScaleWithHttpInfo({ namespace, name }, o),
      ),
    );
    return scale ? toScaleInfo(kind, scale) : undefined;
  }

  async patchScale(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
    opts: MutationOptions,
  ): Promise<ScaleInfo> {
    assertNamespaced(namespace, name);
    // A patch is unconditional unless it carries resourceVersion; with it, a stale read is a 409.
    const body = { metadata: { resourceVersion }, spec: { replicas } };
    const params = { namespace, name, body, dryRun: dryRunParam(opts), fieldManager: this.fieldManager };
    const scale = await this.exec.run(
      'patch',
      `${RESOURCE[kind]}/scale`,
      (o) =>
        kind === 'Deployment'
          ? this.apps.patchNamespacedDeploymentScaleWithHttpInfo(params, o)
          : this.apps.patchNamespacedStatefulSetScaleWithHttpInfo(params, o),
      { contentType: k8s.PatchStrategy.MergePatch },
    );
    return toScaleInfo(kind, scale);
  }

  async findHpaFor(kind: WorkloadKind, namespace: string, name: string): Promise<string | undefined> {
    assertNamespaced(namespace, name);
    // A cluster that does not serve autoscaling/v2 (404) has no HPA that could fight the scale.
    const hpas = await this.orUndefined(
      this.listAll('horizontalpodautoscalers', (page, o) => this.autoscaling.listNamespacedHorizontalPodAutoscalerWithHttpInfo({ namespace, ...page }, o)),
    );
    if (hpas === undefined) return undefined;
    const match = hpas.find((hpa) => hpa.spec?.scaleTargetRef?.kind === kind && hpa.spec.scaleTargetRef.name === name);
    return match?.metadata?.name;
  }

  async getWorkload(kind: WorkloadInfo['kind'], namespace: string, name: string): Promise<WorkloadInfo | undefined> {
    assertNamespaced(namespace, name);
    const params = { namespace, name };
    const send: KubeSend<{ metadata?: k8s.V1ObjectMeta; spec?: { selector?: k8s.V1LabelSelector } }> = (o) => {
      switch (kind) {
        case 'Deployment':
          return this.apps.readNamespacedDeploymentWithHttpInfo(params, o);
        case 'StatefulSet':
          return this.apps.readNamespacedStatefulSetWithHttpInfo(params, o);
        case 'ReplicaSet':
          return this.apps.readNamespacedReplicaSetWithHttpInfo(params, o);
        case 'DaemonSet':
          return this.apps.readNamespacedDaemonSetWithHttpInfo(params, o);
      }
    };
    const workload = await this.orUndefined(this.exec.run('get', RESOURCE[kind], send));
    return workload ? toWorkloadInfo(kind, workload) : undefined;
  }

  async getWorkloadStatus(kind: WorkloadKind, namespace: string, name: string): Promise<WorkloadStatus | undefined> {
    assertNamespaced(namespace, name);
    const params = { namespace, name };
    const send: KubeSend<WireRollout> = (o) =>
      kind === 'Deployment'
        ? this.apps.readNamespacedDeploymentWithHttpInfo(params, o)
        : this.apps.readNamespacedStatefulSetWithHttpInfo(params, o);
    const workload = await this.orUndefined(this.exec.run('get', RESOURCE[kind], send));
    return workload ? toWorkloadStatus(workload) : undefined;
  }

  async getPodTemplate(kind: WorkloadKind, namespace: string, name: string): Promise<PodTemplateInfo | undefined> {
    assertNamespaced(namespace, name);
    const params = { namespace, name };
    const send: KubeSend<WireTemplated> = (o) =>
      kind === 'Deployment'
        ? this.apps.readNamespacedDeploymentWithHttpInfo(params, o)
        : this.apps.readNamespacedStatefulSetWithHttpInfo(params, o);
    const workload = await this.orUndefined(this.exec.run('get', RESOURCE[kind], send));
    return workload ? toPodTemplateInfo(kind, workload) : undefined;
  }

  async setMemoryLimit(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    change: MemoryLimitChange,
    resourceVersion: string,
    opts: MutationOptions & { annotations?: Record<string, string> },
  ): Promise<PodTemplateInfo> {
    assertNamespaced(namespace, name);
    // Strategic merge: `containers` merges by name, so only this container's memory changes; the
    // resourceVersion makes the patch conditional on the template the caller computed from.
    const body = memoryLimitPatch(change, resourceVersion, opts.annotations);
    const params = { namespace, name, body, dryRun: dryRunParam(opts), fieldManager: this.fieldManager };
    const send: KubeSend<WireTemplated> = (o) =>
      kind === 'Deployment'
        ? this.apps.patchNamespacedDeploymentWithHttpInfo(params, o)
        : this.apps.patchNamespacedStatefulSetWithHttpInfo(params, o);
    const workload = await this.exec.run('patch', RESOURCE[kind], send, { contentType: k8s.PatchStrategy.StrategicMergePatch });
    return toPodTemplateInfo(kind, workload);
  }

  async getNamespaceLabels(namespace: string): Promise<Record<string, string> | undefined> {
    assertNamespace(namespace);
    const ns = await this.orUndefined(
      this.exec.run('get', 'namespaces', (o) => this.core.readNamespaceWithHttpInfo({ name: namespace }, o)),
    );
    return ns ? (ns.metadata?.labels ?? {}) : undefined;
  }

  // ---- pods ------------------------------------------------------------------------------

  async getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    assertNamespaced(namespace, name);
    const pod = await this.orUndefined(
      this.exec.run('get', 'pods', (o) => this.core.readNamespacedPodWithHttpInfo({ namespace, name }, o)),
    );
    return pod ? toPodInfo(pod) : undefined;
  }

  /** An empty selector lists every pod of the namespace. */
  async listPods(namespace: string, labelSelector: Record<string, string>): Promise<PodInfo[]> {
    assertNamespace(namespace);
    const selector = labelSelectorString(labelSelector);
    const pods = await this.listAll('pods', (page, o) =>
      this.core.listNamespacedPodWithHttpInfo({ namespace, ...(selector ? { labelSelector: selector } : {}), ...page }, o),
    );
    return pods.map(toPodInfo);
  }

  async listPodsOnNode(node: string): Promise<PodInfo[]> {
    assertObjectName(node, 'node name');
    const fieldSelector = `spec.nodeName=${node}`;
    const pods = await this.listAll('pods', (page, o) =>
      this.core.listPodForAllNamespacesWithHttpInfo({ fieldSelector, ...page }, o),
    );
    return pods.map(toPodInfo);
  }

  async evictPod(
    namespace: string,
    name: string,
    uid: string,
    opts: MutationOptions & { gracePeriodSeconds?: number },
  ): Promise<'evicted' | 'gone'> {
    assertNamespaced(namespace, name);
    const dryRun = dryRunParam(opts);
    const body: k8s.V1Eviction = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace },
      // The server copies the request's dryRun into deleteOptions and rejects a mismatch, so both agree.
      deleteOptions: {
        preconditions: { uid },
        ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
        ...(dryRun ? { dryRun: [dryRun] } : {}),
      },
    };
    try {
      await this.exec.run('create', 'pods/eviction', (o) =>
        this.core.createNamespacedPodEvictionWithHttpInfo({ namespace, name, body, dryRun }, o),
      );
      return 'evicted';
    } catch (err) {
      if (this.isGone(err)) return 'gone';
      throw err;
    }
  }

  async getDisruptionsAllowed(namespace: string, name: string): Promise<number | undefined> {
    assertNamespaced(namespace, name);
    const pdb = await this.orUndefined(this.exec.run('get', 'poddisruptionbudgets', (o) => this.policy.readNamespacedPodDisruptionBudgetWithHttpInfo({ namespace, name }, o)));
    if (!pdb) return undefined;
    // A status the disruption controller has not caught up with says nothing yet (the Eviction API
    // refuses every eviction under it until it has).
    if ((pdb.status?.observedGeneration ?? 0) < (pdb.metadata?.generation ?? 0)) return 0;
    return pdb.status?.disruptionsAllowed ?? 0;
  }

  async deletePod(
    namespace: string,
    name: string,
    uid: string,
    opts: MutationOptions & { gracePeriodSeconds?: number },
  ): Promise<'deleted' | 'gone'> {
    assertNamespaced(namespace, name);
    const dryRun = dryRunParam(opts);
    const body: k8s.V1DeleteOptions = {
      preconditions: { uid },
      ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
      ...(dryRun ? { dryRun: [dryRun] } : {}),
    };
    try {
      await this.exec.run('delete', 'pods', (o) =>
        this.core.deleteNamespacedPodWithHttpInfo({ namespace, name, body, dryRun }, o),
      );
      return 'deleted';
    } catch (err) {
      if (this.isGone(err)) return 'gone';
      throw err;
    }
  }

  // ---- nodes -----------------------------------------------------------------------------

  async getNode(name: string): Promise<NodeInfo | undefined> {
    assertObjectName(name, 'name');
    const node = await this.orUndefined(this.exec.run('get', 'nodes', (o) => this.core.readNodeWithHttpInfo({ name }, o)));
    return node ? toNodeInfo(node) : undefined;
  }

  async setUnschedulable(name: string, unschedulable: boolean, opts: MutationOptions & { annotations?: Record<string, string> }): Promise<NodeInfo> {
    assertObjectName(name, 'name');
    const body = { spec: { unschedulable }, ...(opts.annotations ? { metadata: { annotations: opts.annotations } } : {}) };
    const node = await this.exec.run(
      'patch',
      'nodes',
      (o) =>
        this.core.patchNodeWithHttpInfo(
          { name, body, dryRun: dryRunParam(opts), fieldManager: this.fieldManager },
          o,
        ),
      { contentType: k8s.PatchStrategy.MergePatch },
    );
    return toNodeInfo(node);
  }

  async replaceNodeTaints(name: string, taints: Taint[], resourceVersion: string, opts: MutationOptions): Promise<NodeInfo> {
    assertObjectName(name, 'name');
    // spec.taints is an atomic list: this replaces every taint, so it must be conditional on the
    // resourceVersion the caller read the list at (a concurrent change → 409, re-read, retry).
    const body = { metadata: { resourceVersion }, spec: { taints: taints.map(toWireTaint) } };
    const node = await this.exec.run(
      'patch',
      'nodes',
      (o) => this.core.patchNodeWithHttpInfo({ name, body, dryRun: dryRunParam(opts), fieldManager: this.fieldManager }, o),
      { contentType: k8s.PatchStrategy.MergePatch },
    );
    return toNodeInfo(node);
  }

  async listNodes(): Promise<NodeInfo[]> {
    const nodes = await this.listAll('nodes', (page, o) => this.core.listNodeWithHttpInfo(page, o));
    return nodes.map(toNodeInfo);
  }

  // ---- marks -----------------------------------------------------------------------------

  async annotate(ref: ObjectRef, key: string, value: string, opts: MutationOptions): Promise<void> {
    assertRef(ref);
    const body = { metadata: { annotations: { [key]: value } } };
    const { name } = ref;
    const common = { name, body, dryRun: dryRunParam(opts), fieldManager: this.fieldManager };
    const send: KubeSend<unknown> = (o) => {
      switch (ref.kind) {
        case 'Node':
          return this.core.patchNodeWithHttpInfo(common, o);
        case 'Namespace':
          return this.core.patchNamespaceWithHttpInfo(common, o);
        case 'Pod':
          return this.core.patchNamespacedPodWithHttpInfo({ ...common, namespace: requireNamespace(ref) }, o);
        case 'Deployment':
          return this.apps.patchNamespacedDeploymentWithHttpInfo({ ...common, namespace: requireNamespace(ref) }, o);
        case 'StatefulSet':
          return this.apps.patchNamespacedStatefulSetWithHttpInfo({ ...common, namespace: requireNamespace(ref) }, o);
        case 'ReplicaSet':
          return this.apps.patchNamespacedReplicaSetWithHttpInfo({ ...common, namespace: requireNamespace(ref) }, o);
        case 'DaemonSet':
          return this.apps.patchNamespacedDaemonSetWithHttpInfo({ ...common, namespace: requireNamespace(ref) }, o);
      }
    };
    await this.exec.run('patch', RESOURCE[ref.kind], send, { contentType: k8s.PatchStrategy.MergePatch });
  }

  async createEvent(ref: ObjectRef, event: EventSpec, opts: MutationOptions): Promise<void> {
    assertRef(ref);
    const clusterScoped = CLUSTER_SCOPED.has(ref.kind);
    // Without eventTime the server requires the event's namespace to equal the object's, and
    // `default` for cluster-scoped objects.
    const namespace = clusterScoped ? 'default' : requireNamespace(ref);
    const now = new Date();
    const involvedObject: k8s.V1ObjectReference = {
      apiVersion: API_VERSION[ref.kind],
      kind: ref.kind,
      name: ref.name,
      ...(clusterScoped ? {} : { namespace }),
      ...(ref.uid ? { uid: ref.uid } : {}),
    };
    const body: k8s.CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: event.name ?? eventName(ref.name), namespace },
      involvedObject,
      reason: event.reason,
      message: event.message.slice(0, EVENT_MESSAGE_MAX),
      type: event.type,
      source: { component: COMPONENT, host: this.instance },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.exec.run('create', 'events', (o) =>
      this.core.createNamespacedEventWithHttpInfo(
        { namespace, body, dryRun: dryRunParam(opts), fieldManager: this.fieldManager },
        o,
      ),
    );
  }

  async eventExists(namespace: string, name: string): Promise<boolean> {
    assertNamespaced(namespace, name);
    const event = await this.orUndefined(this.exec.run('get', 'events', (o) => this.core.readNamespacedEventWithHttpInfo({ namespace, name }, o)));
    return event !== undefined;
  }

  async ping(): Promise<string> {
    const info = await this.exec.run('get', 'version', (o) => this.version.getCodeWithHttpInfo({}, o));
    return info.gitVersion;
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** Reads of a missing object answer undefined rather than throwing. */
  private async orUndefined<T>(request: Promise<T>): Promise<T | undefined> {
    try {
      return await request;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /**
   * 404, or a failed uid precondition (a same-named replacement exists): either way the pod
   * the caller meant is gone, and the replacement must not be touched.
   */
  private isGone(err: unknown): boolean {
    return err instanceof KubeApiError && (err.code === 404 || isUidPreconditionConflict(err));
  }

  /**
   * Follows `continue` tokens in chunks of LIST_CHUNK. A 410 means the token expired while
   * paging (the list was compacted); the listing restarts once from the beginning.
   */
  private async listAll<T>(
    resource: string,
    send: (page: { limit: number; _continue?: string }, options: k8s.ConfigurationOptions) => Promise<k8s.HttpInfo<ListPage<T>>>,
  ): Promise<T[]> {
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let token: string | undefined;
      try {
        do {
          const page = { limit: LIST_CHUNK, ...(token ? { _continue: token } : {}) };
          const list = await this.exec.run('list', resource, (o) => send(page, o));
          items.push(...list.items);
          token = list.metadata?._continue || undefined;
        } while (token);
        return items;
      } catch (err) {
        if (attempt === 0 && token && err instanceof KubeApiError && err.code === 410) continue;
        throw err;
      }
    }
  }
}
