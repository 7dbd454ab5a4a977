/**
 * What a mutation means to do, recorded in the run before its request is sent, and how to tell
 * from the cluster whether it already happened. This is what makes a retry safe after an answer
 * was lost (a 500 after the write, a timeout, a dead worker): the next attempt reads the object
 * back and either finds the recorded intent applied (nothing is sent again) or sends the
 * *recorded* intent (never a newly derived one: a retried `step: +1` that re-read 4 does not go
 * to 5).
 */
import type { ClusterClient, NodeInfo, ObjectRef, PodTemplateInfo, Taint, WorkloadKind } from '../kube/cluster-client.js';
import { PermanentError } from '../domain/errors.js';

export type StepIntent =
  | { type: 'scale'; kind: WorkloadKind; namespace: string; name: string; from?: number; replicas: number }
  | { type: 'pod-removal'; method: 'evict' | 'delete'; namespace: string; name: string; uid: string }
  | { type: 'node-schedulable'; name: string; unschedulable: boolean; annotations?: Record<string, string> }
  | { type: 'node-taints'; name: string; add: Taint[]; remove: Taint[] }
  | { type: 'annotation'; ref: ObjectRef; key: string; value: string }
  | { type: 'event'; namespace: string; name: string }
  | {
      type: 'memory-limit';
      kind: WorkloadKind;
      namespace: string;
      name: string;
      container: string;
      /** The limit it raised from, as read before the patch. */
      from?: string;
      /** The intended limit (a quantity) and the same in bytes, which the read-back compares against. */
      limit: string;
      limitBytes: number;
      /** Set when the request had to follow the limit. */
      request?: string;
      /** Set in the same patch (the last-action stamp). */
      annotations?: Record<string, string>;
    };

/** The object as read back: whether the intent holds, and what the mutation would have returned. */
export interface IntentCheck {
  reached: boolean;
  /** The mutation's result synthesised from the read (ScaleInfo, NodeInfo, 'evicted', …). */
  result: unknown;
  /** For the step's `after`. */
  after?: unknown;
}

/** Reads the object the intent is about. Read-only: never sends a mutation. */
export async function checkIntent(cluster: ClusterClient, intent: StepIntent): Promise<IntentCheck> {
  switch (intent.type) {
    case 'scale': {
      const scale = await cluster.getScale(intent.kind, intent.namespace, intent.name);
      if (scale === undefined) throw new PermanentError(`${intent.kind.toLowerCase()}/${intent.namespace}/${intent.name} not found`);
      return { reached: scaleReached(intent, scale.replicas), result: scale, after: { replicas: scale.replicas } };
    }
    case 'pod-removal': {
      const pod = await cluster.getPod(intent.namespace, intent.name);
      // Evicted or deleted: gone, replaced under the same name, or terminating.
      const reached = pod === undefined || pod.uid !== intent.uid || pod.terminating;
      const result = intent.method === 'evict' ? 'evicted' : 'deleted';
      return { reached, result, after: result };
    }
    case 'node-schedulable': {
      const node = await readNode(cluster, intent.name);
      const annotations = Object.entries(intent.annotations ?? {}).every(([k, v]) => sameRunStamp(node.annotations[k], v));
      return { reached: node.unschedulable === intent.unschedulable && annotations, result: node, after: { unschedulable: node.unschedulable } };
    }
    case 'node-taints': {
      const node = await readNode(cluster, intent.name);
      const reached = intent.add.every((t) => node.taints.some((n) => sameTaint(n, t))) && !intent.remove.some((t) => node.taints.some((n) => sameTaint(n, t)));
      return { reached, result: node, after: { taints: node.taints } };
    }
    case 'annotation': {
      const annotations = await readAnnotations(cluster, intent.ref);
      return { reached: annotations?.[intent.key] === intent.value, result: undefined };
    }
    case 'event':
      return { reached: await cluster.eventExists(intent.namespace, intent.name), result: undefined };
    case 'memory-limit': {
      const template = await cluster.getPodTemplate(intent.kind, intent.namespace, intent.name);
      if (template === undefined) throw new PermanentError(`${intent.kind.toLowerCase()}/${intent.namespace}/${intent.name} not found`);
      return { reached: memoryLimitReached(intent, template), result: template, after: memoryOf(template, intent.container) };
    }
  }
}

/**
 * A raise is there when the container's limit is at or above the intended one: never raised
 * twice, never lowered back (someone else may have raised it further meanwhile).
 */
export function memoryLimitReached(intent: { container: string; limitBytes: number }, template: PodTemplateInfo): boolean {
  const limit = template.containers.find((c) => c.name === intent.container)?.memoryLimitBytes;
  return limit !== undefined && limit >= intent.limitBytes;
}

/** A container's memory limit and request as a step's before/after. */
export function memoryOf(template: PodTemplateInfo, container: string): { container: string; memoryLimit?: string; memoryRequest?: string } {
  const c = template.containers.find((x) => x.name === container);
  return {
    container,
    ...(c?.memoryLimit !== undefined ? { memoryLimit: c.memoryLimit } : {}),
    ...(c?.memoryRequest !== undefined ? { memoryRequest: c.memoryRequest } : {}),
  };
}

/** Up means at or above the intended count, down at or below: never past it, never against it. */
export function scaleReached(intent: { from?: number; replicas: number }, current: number): boolean {
  if (intent.from === undefined || intent.from === intent.replicas) return current === intent.replicas;
  return intent.replicas > intent.from ? current >= intent.replicas : current <= intent.replicas;
}

/** The node's taints with the intent applied to what is there now (others' taints survive). */
export function taintsToward(current: readonly Taint[], intent: { add: Taint[]; remove: Taint[] }): Taint[] {
  const kept = current.filter((t) => !intent.remove.some((r) => sameTaint(r, t)) && !intent.add.some((a) => a.key === t.key && a.effect === t.effect));
  return [...kept, ...intent.add];
}

/** The change between two taint lists, as an intent (what to add, what to remove). */
export function taintChange(before: readonly Taint[], after: readonly Taint[]): { add: Taint[]; remove: Taint[] } {
  return {
    add: after.filter((t) => !before.some((b) => sameTaint(b, t))).map(plainTaint),
    remove: before.filter((b) => !after.some((t) => sameTaint(b, t))).map(plainTaint),
  };
}

/**
 * The intended value, or a later stamp of the same run: a drain's final stamp replaces the one
 * its cordon set, and the cordon still counts as applied.
 */
function sameRunStamp(current: string | undefined, intended: string): boolean {
  if (current === intended) return true;
  const runId = (text: string | undefined): unknown => {
    try {
      const value: unknown = text === undefined ? undefined : JSON.parse(text);
      return value !== null && typeof value === 'object' ? (value as { runId?: unknown }).runId : undefined;
    } catch {
      return undefined;
    }
  };
  const id = runId(intended);
  return typeof id === 'string' && id !== '' && runId(current) === id;
}

function sameTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect && (a.value ?? '') === (b.value ?? '');
}

function plainTaint(t: Taint): Taint {
  return { key: t.key, effect: t.effect, ...(t.value === undefined ? {} : { value: t.value }) };
}

async function readNode(cluster: ClusterClient, name: string): Promise<NodeInfo> {
  const node = await cluster.getNode(name);
  if (node === undefined) throw new PermanentError(`node ${name} not found`);
  return node;
}

async function readAnnotations(cluster: ClusterClient, ref: ObjectRef): Promise<Record<string, string> | undefined> {
  switch (ref.kind) {
    case 'Node':
      return (await cluster.getNode(ref.name))?.annotations;
    case 'Pod':
      return (await cluster.getPod(ref.namespace ?? '', ref.name))?.annotations;
    case 'Namespace':
      return undefined;
    default:
      return (await cluster.getWorkload(ref.kind, ref.namespace ?? '', ref.name))?.annotations;
  }
}
