import type {
  ClusterClient,
  EventSpec,
  MemoryLimitChange,
  MutationOptions,
  NodeInfo,
  ObjectRef,
  PodTemplateInfo,
  ScaleInfo,
  Taint,
  WorkloadKind,
} from '../kube/cluster-client.js';
import type { RunStep } from '../domain/run.js';
import { KubeApiError, PermanentError, RemediatorError, RetryableError, RunRecordGoneError } from '../domain/errors.js';
import { memoryBytes } from '../domain/quantity.js';
import type { ActionName } from './playbook.js';
import { checkIntent, memoryOf, taintChange, taintsToward, type IntentCheck, type StepIntent } from './step-intent.js';

export interface MutationSink {
  readonly dryRun: boolean;
  /** The attempt the steps of this cluster belong to (run.attempts). */
  readonly attempt: number;
  /** The run's steps, earlier attempts included; this class appends to it and updates its own entries. */
  readonly steps: RunStep[];
  /** Runs the pre-mutation guard re-check (once per run), cancel and lost-lock checks. */
  beforeMutation(): Promise<void>;
  /**
   * Saves the run document with its steps, and (same MULTI) the audit entries of the given steps,
   * whose outcome is now known. Throws when Redis cannot take it.
   */
  persist(audited?: readonly RunStep[]): Promise<void>;
  /**
   * Resolves once replicas hold everything saved so far (`redis.minReplicasAcked`), throws
   * otherwise. Called after a step's intent is saved and before its request leaves, so a failover
   * cannot forget an action that was sent, nor the cooldown claimed before it. Absent without
   * replicas to wait for.
   */
  durable?(): Promise<void>;
  /**
   * Throws if the attempt was stopped (lost lock, cancel, shutdown) since `beforeMutation`: the
   * last check, right before a request leaves. Optional for sinks without a stop signal.
   */
  assertActive?(): void;
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

/** Cluster-scoped objects' Events live in `default` (see ClusterClient.createEvent). */
export function eventNamespace(ref: ObjectRef): string {
  return ref.kind === 'Node' || ref.kind === 'Namespace' ? 'default' : (ref.namespace ?? 'default');
}

/** An answer from the API server that says the request was not applied (4xx). */
function definitelyNotApplied(err: unknown): boolean {
  return err instanceof KubeApiError && err.code >= 400 && err.code < 500;
}

function isOpen(step: RunStep): boolean {
  return step.result === 'pending' || (step.result === 'error' && step.uncertain === true);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Mutation<T> {
  action: ActionName | 'event';
  object: string;
  key: string;
  request: { method: string; path: string; body?: unknown };
  intent: StepIntent;
  before?: unknown;
  /** Sends the request. `resend` is true when it carries an intent recorded by an earlier attempt (read fresh preconditions). */
  send(intent: StepIntent, dryRun: boolean, resend: boolean): Promise<T>;
  afterOf?(result: T): unknown;
}

/**
 * The ClusterClient a playbook gets: reads pass through; every mutation re-checks the guards
 * first (once per run), is forced to the run's dry-run mode, and is recorded as a step.
 *
 * Exactly-once effect (docs/playbooks.md): a real mutation's intent is saved in the run *before* its
 * request is sent. When the answer is lost (5xx, timeout) the object is read back at once; a
 * later attempt settles the open steps of earlier ones (`settleOpenSteps`) the same way, and a
 * mutation whose key already has a step resumes it: applied in an earlier attempt → nothing is
 * sent; still open → the recorded intent is checked and, if not there yet, sent again as
 * recorded, never re-derived from the new state.
 */
export class RecordingCluster implements ClusterClient {
  /** What the playbook last read, used as a step's `before` without another request. */
  private readonly seenScales = new Map<string, ScaleInfo>();
  private readonly seenNodes = new Map<string, NodeInfo>();
  private readonly seenTemplates = new Map<string, PodTemplateInfo>();
  /** Uids looked up for Events whose object came without one. */
  private readonly uids = new Map<string, string | undefined>();

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

  async getPodTemplate(kind: WorkloadKind, ns: string, name: string): Promise<PodTemplateInfo | undefined> {
    const template = await this.inner.getPodTemplate(kind, ns, name);
    if (template) this.seenTemplates.set(`${kind}/${ns}/${name}`, template);
    return template;
  }

  findHpaFor = (kind: WorkloadKind, ns: string, name: string) => this.inner.findHpaFor(kind, ns, name);
  getWorkload: ClusterClient['getWorkload'] = (kind, ns, name) => this.inner.getWorkload(kind, ns, name);
  getWorkloadStatus = (kind: WorkloadKind, ns: string, name: string) => this.inner.getWorkloadStatus(kind, ns, name);
  getNamespaceLabels = (ns: string) => this.inner.getNamespaceLabels(ns);
  getPod = (ns: string, name: string) => this.inner.getPod(ns, name);
  listPods = (ns: string, selector: Record<string, string>) => this.inner.listPods(ns, selector);
  listPodsOnNode = (node: string) => this.inner.listPodsOnNode(node);
  listNodes = () => this.inner.listNodes();
  getDisruptionsAllowed = (namespace: string, name: string) => this.inner.getDisruptionsAllowed(namespace, name);
  eventExists = (ns: string, name: string) => this.inner.eventExists(ns, name);
  ping = () => this.inner.ping();

  /**
   * Reads back every step an earlier attempt left open (its answer lost, or the worker died) and
   * records what happened: applied → `ok`; not (yet) there → stays open, so the recorded intent
   * wins when the playbook gets to it again. Returns how many steps were settled as applied.
   */
  async settleOpenSteps(): Promise<number> {
    const latest = new Map<string, RunStep>();
    for (const step of this.sink.steps) if (step.key !== undefined && !step.request.dryRun) latest.set(step.key, step);
    let applied = 0;
    let open = 0;
    const audits: RunStep[] = [];
    for (const step of latest.values()) {
      if (!isOpen(step) || step.intent === undefined) continue;
      open += 1;
      const check = await checkIntent(this.inner, step.intent as StepIntent);
      if (check.reached) {
        this.settleApplied(step, check, 'confirmed by a later attempt');
        audits.push(step);
        applied += 1;
      } else {
        step.result = 'error';
        step.uncertain = true;
        step.detail = `${step.detail ? `${step.detail}; ` : ''}not applied as of ${new Date().toISOString()} (checked by a later attempt)`;
      }
    }
    if (open > 0) await this.settle(...audits);
    return applied;
  }

  async patchScale(kind: WorkloadKind, ns: string, name: string, replicas: number, resourceVersion: string, _opts: MutationOptions): Promise<ScaleInfo> {
    const id = `${kind}/${ns}/${name}`;
    const before = this.seenScales.get(id) ?? (await this.getScale(kind, ns, name));
    const path = `/apis/apps/v1/namespaces/${ns}/${kind.toLowerCase()}s/${name}/scale`;
    return this.mutate<ScaleInfo>({
      action: 'scale',
      object: `${kind.toLowerCase()}/${ns}/${name}`,
      key: `scale ${kind.toLowerCase()}/${ns}/${name}`,
      request: { method: 'PATCH', path, body: { metadata: { resourceVersion }, spec: { replicas } } },
      intent: { type: 'scale', kind, namespace: ns, name, ...(before ? { from: before.replicas } : {}), replicas },
      ...(before ? { before: { replicas: before.replicas } } : {}),
      send: async (intent, dryRun, resend) => {
        const want = (intent as Extract<StepIntent, { type: 'scale' }>).replicas;
        // A resent intent carries the resourceVersion of a fresh read, not the stale one it was recorded with.
        const rv = resend ? ((await this.inner.getScale(kind, ns, name))?.resourceVersion ?? resourceVersion) : resourceVersion;
        const result = await this.inner.patchScale(kind, ns, name, want, rv, { dryRun });
        this.seenScales.set(id, result);
        return result;
      },
      afterOf: (after) => ({ replicas: after.replicas }),
    });
  }

  async setMemoryLimit(
    kind: WorkloadKind,
    ns: string,
    name: string,
    change: MemoryLimitChange,
    resourceVersion: string,
    opts: MutationOptions & { annotations?: Record<string, string> },
  ): Promise<PodTemplateInfo> {
    const id = `${kind}/${ns}/${name}`;
    const limitBytes = memoryBytes(change.limit);
    if (limitBytes === undefined) throw new PermanentError(`memory limit "${change.limit}" is not a valid quantity`);
    const before = this.seenTemplates.get(id) ?? (await this.getPodTemplate(kind, ns, name));
    const from = before?.containers.find((c) => c.name === change.container)?.memoryLimit;
    const object = `${kind.toLowerCase()}/${ns}/${name}`;
    const resources = { limits: { memory: change.limit }, ...(change.request !== undefined ? { requests: { memory: change.request } } : {}) };
    const annotations = opts.annotations;
    const body = { metadata: { resourceVersion, ...(annotations ? { annotations } : {}) }, spec: { template: { spec: { containers: [{ name: change.container, resources }] } } } };
    return this.mutate<PodTemplateInfo>({
      action: 'set_memory_limit',
      object,
      key: `set_memory_limit ${object} ${change.container}`,
      request: { method: 'PATCH', path: `/apis/apps/v1/namespaces/${ns}/${kind.toLowerCase()}s/${name}`, body },
      intent: {
        type: 'memory-limit',
        kind,
        namespace: ns,
        name,
        container: change.container,
        ...(from !== undefined ? { from } : {}),
        limit: change.limit,
        limitBytes,
        ...(change.request !== undefined ? { request: change.request } : {}),
        ...(annotations ? { annotations } : {}),
      },
      ...(before ? { before: memoryOf(before, change.container) } : {}),
      send: async (intent, dryRun, resend) => {
        const recorded = intent as Extract<StepIntent, { type: 'memory-limit' }>;
        let rv = resourceVersion;
        let request = recorded.request;
        if (resend) {
          // The recorded limit, against the template as it is now: a fresh precondition, and the
          // request raised only if it would now exceed the limit.
          const fresh = await this.inner.getPodTemplate(kind, ns, name);
          if (fresh) {
            rv = fresh.resourceVersion;
            const current = fresh.containers.find((c) => c.name === recorded.container)?.memoryRequestBytes;
            request = current !== undefined && current > recorded.limitBytes ? recorded.limit : undefined;
          }
        }
        const result = await this.inner.setMemoryLimit(
          kind,
          ns,
          name,
          { container: recorded.container, limit: recorded.limit, ...(request !== undefined ? { request } : {}) },
          rv,
          { dryRun, ...(recorded.annotations ? { annotations: recorded.annotations } : {}) },
        );
        if (!dryRun) this.seenTemplates.set(id, result);
        return result;
      },
      afterOf: (after) => memoryOf(after, change.container),
    });
  }

  async evictPod(ns: string, name: string, uid: string, opts: MutationOptions & { gracePeriodSeconds?: number }): Promise<'evicted' | 'gone'> {
    const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, deleteOptions: { preconditions: { uid }, gracePeriodSeconds: opts.gracePeriodSeconds } };
    return this.mutate<'evicted' | 'gone'>({
      action: 'evict',
      object: `pod/${ns}/${name}`,
      key: `evict pod/${ns}/${name} ${uid}`,
      request: { method: 'POST', path: `/api/v1/namespaces/${ns}/pods/${name}/eviction`, body },
      intent: { type: 'pod-removal', method: 'evict', namespace: ns, name, uid },
      before: { uid },
      send: (_intent, dryRun) => this.inner.evictPod(ns, name, uid, { ...opts, dryRun }),
    });
  }

  async deletePod(ns: string, name: string, uid: string, opts: MutationOptions & { gracePeriodSeconds?: number }): Promise<'deleted' | 'gone'> {
    const body = { preconditions: { uid }, gracePeriodSeconds: opts.gracePeriodSeconds };
    return this.mutate<'deleted' | 'gone'>({
      action: 'delete_pod',
      object: `pod/${ns}/${name}`,
      key: `delete_pod pod/${ns}/${name} ${uid}`,
      request: { method: 'DELETE', path: `/api/v1/namespaces/${ns}/pods/${name}`, body },
      intent: { type: 'pod-removal', method: 'delete', namespace: ns, name, uid },
      before: { uid },
      send: (_intent, dryRun) => this.inner.deletePod(ns, name, uid, { ...opts, dryRun }),
    });
  }

  async setUnschedulable(name: string, unschedulable: boolean, opts: MutationOptions & { annotations?: Record<string, string> }): Promise<NodeInfo> {
    const before = this.seenNodes.get(name) ?? (await this.getNode(name));
    const action = unschedulable ? 'cordon' : 'uncordon';
    const annotations = opts.annotations;
    const body = { spec: { unschedulable }, ...(annotations ? { metadata: { annotations } } : {}) };
    return this.mutate<NodeInfo>({
      action,
      object: `node/${name}`,
      key: `${action} node/${name}`,
      request: { method: 'PATCH', path: `/api/v1/nodes/${name}`, body },
      intent: { type: 'node-schedulable', name, unschedulable, ...(annotations ? { annotations } : {}) },
      ...(before ? { before: { unschedulable: before.unschedulable } } : {}),
      send: async (intent, dryRun) => {
        const recorded = (intent as Extract<StepIntent, { type: 'node-schedulable' }>).annotations;
        const result = await this.inner.setUnschedulable(name, unschedulable, { dryRun, ...(recorded ? { annotations: recorded } : {}) });
        this.seenNodes.set(name, result);
        return result;
      },
      afterOf: (after) => ({ unschedulable: after.unschedulable }),
    });
  }

  async replaceNodeTaints(name: string, taints: Taint[], resourceVersion: string, _opts: MutationOptions): Promise<NodeInfo> {
    const before = this.seenNodes.get(name) ?? (await this.getNode(name));
    const change = taintChange(before?.taints ?? [], taints);
    return this.mutate<NodeInfo>({
      action: 'taint',
      object: `node/${name}`,
      key: `taint node/${name}`,
      request: { method: 'PATCH', path: `/api/v1/nodes/${name}`, body: { metadata: { resourceVersion }, spec: { taints } } },
      intent: { type: 'node-taints', name, ...change },
      ...(before ? { before: { taints: before.taints } } : {}),
      send: async (intent, dryRun, resend) => {
        let list = taints;
        let rv = resourceVersion;
        if (resend) {
          // The recorded change applied to the list as it is now, so others' taints survive.
          const fresh = await this.inner.getNode(name);
          if (fresh) {
            list = taintsToward(fresh.taints, intent as Extract<StepIntent, { type: 'node-taints' }>);
            rv = fresh.resourceVersion;
          }
        }
        const result = await this.inner.replaceNodeTaints(name, list, rv, { dryRun });
        this.seenNodes.set(name, result);
        return result;
      },
      afterOf: (after) => ({ taints: after.taints }),
    });
  }

  async annotate(ref: ObjectRef, key: string, value: string, _opts: MutationOptions): Promise<void> {
    await this.mutate<void>({
      action: 'annotate',
      object: refName(ref),
      key: `annotate ${refName(ref)} ${key}`,
      request: { method: 'PATCH', path: refPath(ref), body: { metadata: { annotations: { [key]: value } } } },
      intent: { type: 'annotation', ref, key, value },
      send: (intent, dryRun) => this.inner.annotate(ref, key, (intent as Extract<StepIntent, { type: 'annotation' }>).value, { dryRun }),
    });
  }

  async createEvent(given: ObjectRef, event: EventSpec, _opts: MutationOptions): Promise<void> {
    // kubectl describe finds an object's Events by its uid: every Event carries it.
    const ref = given.uid ? given : { ...given, ...(await this.uidOf(given)) };
    const ns = eventNamespace(ref);
    // Without a name an Event cannot be told apart from a second one: no resume, only a new request.
    const name = event.name ?? `${ref.name}.${Date.now().toString(16)}`;
    await this.mutate<void>({
      action: 'event',
      object: refName(ref),
      key: `event ${ns}/${name}`,
      request: { method: 'POST', path: `/api/v1/namespaces/${ns}/events`, body: { name, reason: event.reason, message: event.message, type: event.type } },
      intent: { type: 'event', namespace: ns, name },
      send: async (_intent, dryRun) => {
        try {
          await this.inner.createEvent(ref, { ...event, name }, { dryRun });
        } catch (err) {
          // The Event with this run's deterministic name is there: an earlier request created it.
          const exists = !dryRun && err instanceof KubeApiError && err.code === 409;
          if (!exists) throw err;
        }
      },
    });
  }

  private async uidOf(ref: ObjectRef): Promise<{ uid?: string }> {
    const key = refName(ref);
    if (!this.uids.has(key)) {
      let uid: string | undefined;
      if (ref.kind === 'Node') uid = (this.seenNodes.get(ref.name) ?? (await this.inner.getNode(ref.name)))?.uid;
      else if (ref.kind === 'Pod') uid = (await this.inner.getPod(ref.namespace ?? '', ref.name))?.uid;
      else if (ref.kind !== 'Namespace') uid = (await this.inner.getWorkload(ref.kind, ref.namespace ?? '', ref.name))?.uid;
      this.uids.set(key, uid);
    }
    const uid = this.uids.get(key);
    return uid ? { uid } : {};
  }

  private async mutate<T>(m: Mutation<T>): Promise<T> {
    await this.sink.beforeMutation();
    const { dryRun, attempt } = this.sink;
    if (dryRun) return this.dryMutation(m);

    const prior = this.latest(m.key);
    let intent = m.intent;
    let resend = false;
    let superseded: RunStep | undefined;
    if (prior !== undefined && prior.intent !== undefined && (prior.attempt ?? 0) < attempt && (prior.result === 'ok' || prior.result === 'gone')) {
      // Applied by an earlier attempt of this run: report the object as it is, send nothing.
      const check = await checkIntent(this.inner, prior.intent as StepIntent);
      return (prior.result === 'gone' ? 'gone' : check.result) as T;
    }
    if (prior !== undefined && prior.intent !== undefined && isOpen(prior)) {
      intent = prior.intent as StepIntent;
      const check = await checkIntent(this.inner, intent);
      if (check.reached) {
        this.settleApplied(prior, check, 'confirmed when resumed');
        await this.settle(prior);
        return check.result as T;
      }
      prior.result = 'error';
      prior.uncertain = false;
      prior.detail = `${prior.detail ? `${prior.detail}; ` : ''}not applied; sent again as recorded`;
      resend = true;
      superseded = prior;
    }

    const step: RunStep = {
      action: m.action,
      object: m.object,
      key: m.key,
      intent,
      attempt,
      request: { ...m.request, dryRun: false },
      result: 'pending',
      at: new Date().toISOString(),
      ...(m.before !== undefined ? { before: m.before } : {}),
    };
    this.sink.steps.push(step);
    // No request leaves before its intent is durable: otherwise a lost answer could not be resumed.
    await this.persist(superseded ? [superseded] : []);
    if (this.sink.durable) {
      // Not confirmed: the step stays open, nothing is sent, and the next attempt reads it back.
      await this.sink.durable().catch((err: unknown) => {
        throw err instanceof RemediatorError ? err : new RetryableError(`could not confirm the step's intent on the replicas: ${message(err)}`, { cause: err });
      });
    }
    // The lock may have been lost while the intent was saved: then the step stays open (the next
    // attempt reads it back) and nothing is sent.
    this.sink.assertActive?.();

    let result: T;
    try {
      result = await m.send(intent, false, resend);
    } catch (err) {
      step.at = new Date().toISOString();
      step.detail = message(err);
      if (definitelyNotApplied(err)) {
        step.result = 'error';
        await this.settle(step);
        throw err;
      }
      // A 5xx or no answer: the server may have applied it. Read it back before deciding.
      const check = await checkIntent(this.inner, intent).catch(() => undefined);
      if (check?.reached) {
        this.settleApplied(step, check, `the answer was lost (${message(err)}); read back`);
        await this.settle(step);
        return check.result as T;
      }
      step.result = 'error';
      step.uncertain = true;
      await this.settle(step);
      throw err;
    }
    step.result = result === 'gone' ? 'gone' : 'ok';
    step.at = new Date().toISOString();
    if (m.afterOf) step.after = m.afterOf(result);
    else if (typeof result === 'string') step.after = result;
    await this.settle(step);
    return result;
  }

  private async dryMutation<T>(m: Mutation<T>): Promise<T> {
    const base = { action: m.action, object: m.object, request: { ...m.request, dryRun: true }, ...(m.before !== undefined ? { before: m.before } : {}) };
    let step: RunStep;
    try {
      const result = await m.send(m.intent, true, false);
      step = { ...base, result: 'dry_run', at: new Date().toISOString() };
      if (m.afterOf) step.after = m.afterOf(result);
      else if (typeof result === 'string') step.after = result;
      this.sink.steps.push(step);
      await this.settle(step);
      return result;
    } catch (err) {
      step = { ...base, result: 'error', detail: message(err), at: new Date().toISOString() };
      this.sink.steps.push(step);
      await this.settle(step);
      throw err;
    }
  }

  private latest(key: string): RunStep | undefined {
    for (let i = this.sink.steps.length - 1; i >= 0; i--) {
      const step = this.sink.steps[i]!;
      if (step.key === key && !step.request.dryRun) return step;
    }
    return undefined;
  }

  private settleApplied(step: RunStep, check: IntentCheck, how: string): void {
    step.result = 'ok';
    delete step.uncertain;
    step.detail = `${step.detail ? `${step.detail}; ` : ''}applied: ${how}`;
    if (check.after !== undefined) step.after = check.after;
  }

  /**
   * Saves the run with these outcomes and their audit entries. When Redis fails here the attempt stops
   * (retryable): the next attempt finds the step open and reads the object back, so the outcome
   * and its audit entry are recorded then, and nothing is sent twice.
   */
  private async settle(...steps: RunStep[]): Promise<void> {
    await this.persist(steps);
  }

  private async persist(audited: readonly RunStep[] = []): Promise<void> {
    try {
      await this.sink.persist(audited);
    } catch (err) {
      // A wiped record is not a Redis hiccup: the executor gives back what the attempt claimed.
      if (err instanceof RunRecordGoneError) throw err;
      throw new RetryableError(`could not record a step of the run in Redis: ${message(err)}`, { cause: err });
    }
  }
}
