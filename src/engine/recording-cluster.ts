import type { ClusterClient, EventSpec, MutationOptions, NodeInfo, ObjectRef, ScaleInfo, Taint, WorkloadKind } from '../kube/cluster-client.js';
import type { RunStep } from '../domain/run.js';
import type { ActionName } from './playbook.js';

export interface MutationSink {
  readonly dryRun: boolean;
  /** Runs the pre-mutation guard re-check; resolves at once after the first call. */
  beforeMutation(): Promise<void>;
  /** Records the step (run record + audit). Actions are counted from the steps when the run ends. */
  record(step: RunStep, action: ActionName | undefined): Promise<void>;
}

function refPath(ref: ObjectRef): string {
  switch (ref.kind) {
    case 'Node':
      return `/api/v1/nodes/${ref.name}`;
    case 'Namespace':
      return `/api/v1/namespaces/${ref.name}`;
    case 'Pod':
      return `/api/v1/namespaces/${ref.namespace}/pods/${ref.name}`;
    default:
      return `/apis/apps/v1/namespaces/${ref.namespace}/${ref.kind.toLowerCase()}s/${ref.name}`;
  }
}

function refName(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind.toLowerCase()}/${ref.namespace}/${ref.name}` : `${ref.kind.toLowerCase()}/${ref.name}`;
}

/**
 * The ClusterClient a playbook gets: reads pass through; every mutation re-checks the guards
 * first (once per run), is forced to the run's dry-run mode, and is recorded as a step.
 */
export class RecordingCluster implements ClusterClient {
  /** What the playbook last read, used as a step's `before` without another request. */
  private readonly seenScales = new Map<string, ScaleInfo>();
  private readonly seenNodes = new Map<string, NodeInfo>();

  constructor(
    private readonly inner: ClusterClient,
    private readonly sink: MutationSink,
  ) {}

  async getScale(kind: WorkloadKind, ns: string, name: string): Promise<ScaleInfo | undefined> {
    const scale = await this.inner.getScale(kind, ns, name);
    if (scale) this.seenScales.set(`${kind}/${ns}/${name}`, scale);
    return scale;
  }

  async getNode(name: string): Promise<NodeInfo | undefined> {
    const node = await this.inner.getNode(name);
    if (node) this.seenNodes.set(name, node);
    return node;
  }

  findHpaFor = (kind: WorkloadKind, ns: string, name: string) => this.inner.findHpaFor(kind, ns, name);
  getWorkload: ClusterClient['getWorkload'] = (kind, ns, name) => this.inner.getWorkload(kind, ns, name);
  getNamespaceLabels = (ns: string) => this.inner.getNamespaceLabels(ns);
  getPod = (ns: string, name: string) => this.inner.getPod(ns, name);
  listPods = (ns: string, selector: Record<string, string>) => this.inner.listPods(ns, selector);
  listPodsOnNode = (node: string) => this.inner.listPodsOnNode(node);
  listNodes = () => this.inner.listNodes();
  ping = () => this.inner.ping();

  async patchScale(kind: WorkloadKind, ns: string, name: string, replicas: number, resourceVersion: string, _opts: MutationOptions): Promise<ScaleInfo> {
    const before = this.seenScales.get(`${kind}/${ns}/${name}`) ?? (await this.getScale(kind, ns, name));
    return this.mutate(
      'scale',
      `${kind.toLowerCase()}/${ns}/${name}`,
      { method: 'PATCH', path: `/apis/apps/v1/namespaces/${ns}/${kind.toLowerCase()}s/${name}/scale`, body: { metadata: { resourceVersion }, spec: { replicas } } },
      (dryRun) => this.inner.patchScale(kind, ns, name, replicas, resourceVersion, { dryRun }).then((r) => (this.seenScales.set(`${kind}/${ns}/${name}`, r), r)),
      before ? { replicas: before.replicas } : undefined,
      (after) => ({ replicas: after.replicas }),
    );
  }

  async evictPod(ns: string, name: string, uid: string, opts: MutationOptions & { gracePeriodSeconds?: number }): Promise<'evicted' | 'gone'> {
    const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, deleteOptions: { preconditions: { uid }, gracePeriodSeconds: opts.gracePeriodSeconds } };
    return this.mutate('evict', `pod/${ns}/${name}`, { method: 'POST', path: `/api/v1/namespaces/${ns}/pods/${name}/eviction`, body }, (dryRun) =>
      this.inner.evictPod(ns, name, uid, { ...opts, dryRun }),
      { uid },
    );
  }

  async deletePod(ns: string, name: string, uid: string, opts: MutationOptions & { gracePeriodSeconds?: number }): Promise<'deleted' | 'gone'> {
    const body = { preconditions: { uid }, gracePeriodSeconds: opts.gracePeriodSeconds };
    return this.mutate('delete_pod', `pod/${ns}/${name}`, { method: 'DELETE', path: `/api/v1/namespaces/${ns}/pods/${name}`, body }, (dryRun) =>
      this.inner.deletePod(ns, name, uid, { ...opts, dryRun }),
      { uid },
    );
  }

  async setUnschedulable(name: string, unschedulable: boolean, _opts: MutationOptions): Promise<NodeInfo> {
    const before = this.seenNodes.get(name) ?? (await this.getNode(name));
    return this.mutate(
      unschedulable ? 'cordon' : 'uncordon',
      `node/${name}`,
      { method: 'PATCH', path: `/api/v1/nodes/${name}`, body: { spec: { unschedulable } } },
      (dryRun) => this.inner.setUnschedulable(name, unschedulable, { dryRun }).then((r) => (this.seenNodes.set(name, r), r)),
      before ? { unschedulable: before.unschedulable } : undefined,
      (after) => ({ unschedulable: after.unschedulable }),
    );
  }

  async replaceNodeTaints(name: string, taints: Taint[], resourceVersion: string, _opts: MutationOptions): Promise<NodeInfo> {
    const before = this.seenNodes.get(name) ?? (await this.getNode(name));
    return this.mutate(
      'taint',
      `node/${name}`,
      { method: 'PATCH', path: `/api/v1/nodes/${name}`, body: { metadata: { resourceVersion }, spec: { taints } } },
      (dryRun) => this.inner.replaceNodeTaints(name, taints, resourceVersion, { dryRun }).then((r) => (this.seenNodes.set(name, r), r)),
      before ? { taints: before.taints } : undefined,
      (after) => ({ taints: after.taints }),
    );
  }

  async annotate(ref: ObjectRef, key: string, value: string, _opts: MutationOptions): Promise<void> {
    await this.mutate('annotate', refName(ref), { method: 'PATCH', path: refPath(ref), body: { metadata: { annotations: { [key]: value } } } }, (dryRun) =>
      this.inner.annotate(ref, key, value, { dryRun }),
    );
  }

  async createEvent(ref: ObjectRef, event: EventSpec, _opts: MutationOptions): Promise<void> {
    const ns = ref.namespace ?? 'default';
    await this.mutate(undefined, refName(ref), { method: 'POST', path: `/api/v1/namespaces/${ns}/events`, body: { reason: event.reason, message: event.message, type: event.type } }, (dryRun) =>
      this.inner.createEvent(ref, event, { dryRun }),
    );
  }

  private async mutate<T>(
    action: ActionName | undefined,
    object: string,
    request: { method: string; path: string; body?: unknown },
    call: (dryRun: boolean) => Promise<T>,
    before?: unknown,
    afterOf?: (result: T) => unknown,
  ): Promise<T> {
    await this.sink.beforeMutation();
    const dryRun = this.sink.dryRun;
    const base = { action: action ?? 'event', object, request: { ...request, dryRun } };
    try {
      const result = await call(dryRun);
      const step: RunStep = { ...base, result: dryRun ? 'dry_run' : result === 'gone' ? 'gone' : 'ok', at: new Date().toISOString() };
      if (before !== undefined) step.before = before;
      if (afterOf) step.after = afterOf(result);
      else if (typeof result === 'string') step.after = result;
      await this.sink.record(step, action);
      return result;
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      const step: RunStep = { ...base, result: 'error', detail, at: new Date().toISOString() };
      if (before !== undefined) step.before = before;
      await this.sink.record(step, action);
      throw err;
    }
  }
}
