/**
 * drain-gpu-node: cordons a GPU node (optionally adds a NoSchedule/PreferNoSchedule taint) and
 * evicts its pods through the Eviction API with `kubectl drain` semantics, then waits until they
 * are gone and their workloads are back at their desired availability (on other nodes).
 *
 * Refuses (skipped) a node carrying `<guards.optOutLabel>: "true"`, and a node without
 * allocatable nvidia.com/gpu when requireGpu. The node budget guard may block the cordon. Fails
 * before evicting anything (the node stays cordoned, like kubectl) when a pod it would evict has
 * no controller (without force), uses emptyDir (without deleteEmptyDirData), is opted out (the
 * label on the pod, its namespace or its owning workload), or is a DaemonSet pod (without
 * ignoreDaemonSets). Evicts in parallel; a pod a PodDisruptionBudget refuses is sent again as soon
 * as that budget allows a disruption (read every 100 ms), until timeoutSeconds; then the run fails.
 *
 * The cordon and the node's `remediator.dev/last-action` stamp (`cordoned: true`) are one merge
 * patch, so a drain that fails, is cancelled or dies right after cordoning still leaves a node
 * `uncordon-node` knows as its own; the stamp is rewritten with the outcome at the end. When the
 * node was already cordoned by someone else, the stamp says so (`cordoned: false`), and
 * uncordon-node leaves that cordon alone. A retried attempt resumes: pods an earlier attempt
 * evicted are waited for (and keep their Events), never evicted again.
 *
 * Health check (README "Closing the loop"): once the evicted pods are gone, waits (within the same
 * timeoutSeconds as the whole drain) until each evicted pod's workload — a ReplicaSet's
 * Deployment, or a StatefulSet; pods without a controller and DaemonSet pods have none to wait
 * for — has availableReplicas ≥ spec.replicas again, and reports the verdict. Past the timeout the
 * run fails listing the workloads still short; the node stays cordoned and drained. A dry run never
 * waits and reports none.
 *
 * kubectl equivalent: `kubectl drain NODE --ignore-daemonsets --timeout=600s
 * [--delete-emptydir-data] [--force] [--grace-period=N]` (+ `kubectl taint nodes NODE k=v:NoSchedule`).
 */
import { z } from 'zod';
import {
  assertObjectName,
  definePlaybook,
  KubeApiError,
  nodeTarget,
  PermanentError,
  workloadTarget,
  type ClusterClient,
  type NodeInfo,
  type ObjectRef,
  type PlaybookContext,
  type PodInfo,
  type Taint,
  type WorkloadKind,
} from '../src/engine/playbook.js';
import { isObjectName, NODE_PARAM_LABELS, nodeParamFromLabels, objectNameField, QUALIFIED_NAME } from './label-params.js';
import { cordonOwnership, NOT_OUR_CORDON } from './node-marks.js';
import { optedOut, optOutNote } from './opt-out.js';
import { findCompletedStep } from './previous-steps.js';

/** kubectl's EvictErrorRetryDelay: a refusal that names no budget is retried this often. */
const EVICT_RETRY_MS = 5000;
/** How often a budget that refused an eviction is read while its pods wait. */
const PDB_POLL_MS = 100;
/** A refused pod is sent again on its budget's word no sooner than this. */
const REFUSED_AGAIN_MS = 500;
/** Evictions in flight at once (kubectl sends one per pod at once; this bounds a node of 500). */
const EVICT_CONCURRENCY = 32;
/** kubectl's waitForDelete interval. */
const POLL_MS = 1000;
const MAX_CONFLICT_RETRIES = 5;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

const taintParams = z.strictObject({
  key: z.string().max(316).regex(QUALIFIED_NAME, { message: 'must be a qualified name like example.com/gpu-overheated' }),
  value: z.string().regex(LABEL_VALUE, { message: 'must be a valid label value' }).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule'], {
    error: (issue) =>
      issue.input === 'NoExecute'
        ? 'NoExecute is refused: it evicts pods without the Eviction API and so bypasses PodDisruptionBudgets'
        : undefined,
  }),
});

export const drainGpuNodeParams = z.strictObject({
  node: objectNameField('Name of the node'),
  requireGpu: z.boolean().default(true).describe('Skip nodes without allocatable nvidia.com/gpu'),
  gracePeriodSeconds: z.int().min(0).optional().describe("Termination grace period for evicted pods (default: each pod's own)"),
  timeoutSeconds: z.int().min(1).default(600).describe('Give up (run fails) when the pods are not gone by then'),
  ignoreDaemonSets: z.boolean().default(true).describe('Leave DaemonSet pods alone instead of failing'),
  deleteEmptyDirData: z.boolean().default(false).describe('Also evict pods with emptyDir volumes (their data is lost)'),
  force: z.boolean().default(false).describe('Also evict pods without a controller (nothing recreates them)'),
  onlyGpuPods: z.boolean().default(false).describe('Evict only pods that request or limit nvidia.com/gpu (the node is still cordoned)'),
  taint: taintParams.optional().describe('Taint added read-modify-write after the cordon'),
});

export type DrainGpuNodeParams = z.infer<typeof drainGpuNodeParams>;
type TaintParams = z.infer<typeof taintParams>;

export const drainGpuNode = definePlaybook<DrainGpuNodeParams>({
  name: 'drain-gpu-node',
  description:
    'Cordons a GPU node and evicts its pods through the Eviction API with kubectl drain semantics, honouring PodDisruptionBudgets.',
  destructive: true,
  paramsSchema: drainGpuNodeParams,

  paramsFromLabels(labels) {
    return nodeParamFromLabels(labels);
  },
  paramLabels: NODE_PARAM_LABELS,

  target(params) {
    return nodeTarget(params.node);
  },

  async run(ctx, params) {
    const name = assertObjectName(params.node, 'node name');
    const ref: ObjectRef = { kind: 'Node', name };
    const dry = ctx.dryRun;

    let node = await ctx.cluster.getNode(name);
    if (node === undefined) throw new PermanentError(`node ${name} not found`);
    if (optedOut(node.labels, ctx.optOutLabel)) {
      return { result: 'skipped', reason: `node ${name} is opted out (${optOutNote(ctx.optOutLabel, `node ${name}`)})` };
    }
    if (params.requireGpu && node.allocatableGpus <= 0) {
      return { result: 'skipped', reason: `node ${name} has no allocatable nvidia.com/gpu` };
    }

    const cordonedNow = !node.unschedulable;
    // Whose cordon this is decides whether uncordon-node may undo it later: the stamp says so.
    const cordon: CordonState = cordonedNow ? 'now' : earlierCordonOf(ctx, name, node) ? 'earlier' : 'theirs';
    const cordonMessage = `${dry ? 'would cordon' : 'cordoned'} node ${name}`;
    const resumedCordon = !cordonedNow && cordonedByThisRun(ctx, name);
    if (cordonedNow) {
      await ctx.claimNodeBudget(name);
      const stamp = ctx.lastActionAnnotation(`${cordonMessage} to drain it`, { cordoned: true });
      node = await ctx.cluster.setUnschedulable(name, true, { dryRun: dry, annotations: stamp });
      await ctx.event(ref, 'RemediationCordon', cordonMessage);
    } else if (resumedCordon) {
      // An earlier attempt cordoned it; its Event may not have been recorded before it died.
      await ctx.event(ref, 'RemediationCordon', cordonMessage);
    }
    let tainted = '';
    // Tainted now, or by an earlier attempt of this run (whose Event may be missing).
    if (params.taint !== undefined && ((await addTaint(ctx, node, params.taint)) || taintedByThisRun(ctx, name))) {
      tainted = describeTaint(params.taint);
      await ctx.event(ref, 'RemediationCordon', `${dry ? 'would taint' : 'tainted'} node ${name} with ${tainted}`, 'Normal', 'taint');
    }
    const mutated = cordonedNow || tainted !== '' || resumedCordon;

    const plan = await planEvictions(ctx.cluster, await ctx.cluster.listPodsOnNode(name), params, ctx.optOutLabel);
    const resumed = evictedEarlier(ctx, name, plan.evict);
    if (plan.problems.length > 0) {
      const message = `cannot drain node ${name}: ${plan.problems.join('; ')}`;
      await ctx.event(ref, 'RemediationBlocked', message, 'Warning');
      if (mutated) await ctx.stampLastAction(ref, `${message}${cordonSuffix(cordon)}`, { cordoned: cordon !== 'theirs' });
      throw new PermanentError(message);
    }

    const taintNote = tainted === '' ? '' : `; ${dry ? 'would taint' : 'tainted'} ${tainted}`;
    if (plan.evict.length === 0 && resumed.length === 0) {
      if (!mutated) return { result: 'noop', reason: `node ${name} is already cordoned and has no pods to evict` };
      const head = cordonedNow
        ? `${dry ? 'would cordon' : 'cordoned'} node ${name}`
        : cordon === 'earlier'
          ? `node ${name} cordoned earlier by remediator`
          : `node ${name} ${NOT_OUR_CORDON}`;
      const reason = `${head}${taintNote}; no pods to evict`;
      await ctx.stampLastAction(ref, reason, { cordoned: cordon !== 'theirs' });
      return { result: 'changed', reason };
    }

    const toEvict: PodRef[] = [...resumed, ...plan.evict];
    await ctx.event(ref, 'RemediationDrain', `${dry ? 'would evict' : 'evicting'} ${count(toEvict.length)} from node ${name}: ${list(toEvict)}`);
    const deadline = ctx.now() + params.timeoutSeconds * 1000;
    for (const pod of resumed) await evictedEvent(ctx, pod);
    const outcome = await evictAll(ctx, plan.evict, params, deadline);
    outcome.evicted.unshift(...resumed);
    const head = cordonedNow
      ? `${dry ? 'would cordon and drain' : 'cordoned and drained'} node ${name}`
      : `${dry ? 'would drain' : 'drained'} node ${name} (${cordon === 'earlier' ? 'cordoned earlier by remediator' : NOT_OUR_CORDON})`;

    if (dry) {
      // A dry run never waits: a PDB refusal is reported, not retried.
      const blocked = outcome.blocked.length > 0 ? `; a PodDisruptionBudget refuses ${list(outcome.blocked)} now` : '';
      const reason = `${head}: ${evictedText(outcome.evicted, outcome.gone, true)}${taintNote}${blocked}`;
      await ctx.stampLastAction(ref, reason, { cordoned: cordon !== 'theirs' });
      return { result: 'changed', reason };
    }
    if (outcome.blocked.length > 0) {
      outcome.blocked.forEach(() => ctx.countActionError('evict'));
      return timedOut(ctx, ref, cordon, params.timeoutSeconds, [...outcome.blocked, ...(await notGone(ctx.cluster, outcome.evicted))]);
    }
    const remaining = await waitUntilGone(ctx, outcome.evicted, deadline);
    if (remaining.length > 0) return timedOut(ctx, ref, cordon, params.timeoutSeconds, remaining);
    const drained = `${head}: ${evictedText(outcome.evicted, outcome.gone, false)}${taintNote}`;
    const health = await waitForWorkloads(ctx, await workloadsOf(ctx.cluster, outcome.evicted), deadline, params.timeoutSeconds);
    if (!health.healthy) {
      // The drain itself is done and stays done; the run fails on what the cluster did not recover.
      const message = `${drained}, but ${health.detail}`;
      await ctx.event(ref, 'RemediationDrain', `node ${name}: ${health.detail}`, 'Warning', 'health');
      await ctx.stampLastAction(ref, `${message}${cordonSuffix(cordon)}`, { cordoned: cordon !== 'theirs' });
      throw new PermanentError(message);
    }
    const reason = `${drained}; ${health.detail}`;
    await ctx.stampLastAction(ref, reason, { cordoned: cordon !== 'theirs' });
    return { result: 'changed', reason };
  },
});

/** Who cordoned the node: this attempt, remediator before (earlier attempt or drain), or someone else. */
type CordonState = 'now' | 'earlier' | 'theirs';

/**
 * A pod as the drain needs it: PodInfo from a listing, or rebuilt from an earlier attempt's step
 * (its controller then unknown: `resumed`).
 */
type PodRef = Pick<PodInfo, 'namespace' | 'name' | 'uid' | 'nodeName' | 'controller'> & { resumed?: true };

interface EvictionPlan {
  evict: PodInfo[];
  problems: string[];
}

/** kubectl drain's filters; every problem is collected so the error names all of them at once. */
async function planEvictions(cluster: ClusterClient, pods: PodInfo[], params: DrainGpuNodeParams, optOutLabel: string): Promise<EvictionPlan> {
  const optOut = new OptOutCheck(cluster, optOutLabel);
  const plan: EvictionPlan = { evict: [], problems: [] };
  for (const pod of pods) {
    const id = `${pod.namespace}/${pod.name}`;
    if (pod.isMirror) continue;
    if (params.onlyGpuPods && !pod.requestsGpu) continue;
    const finished = pod.phase === 'Succeeded' || pod.phase === 'Failed';
    if (pod.controller?.kind === 'DaemonSet') {
      if (params.ignoreDaemonSets) continue;
      if (!finished) {
        plan.problems.push(`pod ${id} is managed by DaemonSet ${pod.controller.name} (use ignoreDaemonSets)`);
        continue;
      }
    }
    const optedOut = await optOut.reason(pod);
    if (optedOut !== undefined) {
      plan.problems.push(`pod ${id} is opted out (${optedOut})`);
      continue;
    }
    // Finished pods are only cleaned up: losing them loses nothing, as in kubectl.
    if (!finished && pod.controller === undefined && !params.force) plan.problems.push(`pod ${id} has no controller (use force)`);
    if (!finished && pod.hasEmptyDir && !params.deleteEmptyDirData) {
      plan.problems.push(`pod ${id} uses emptyDir data (use deleteEmptyDirData)`);
    }
    plan.evict.push(pod);
  }
  return plan;
}

/**
 * `<optOutLabel>: "true"` on the pod, its namespace or its owning workload: such a pod blocks the
 * drain (the node cannot be emptied without touching it) rather than being skipped.
 */
class OptOutCheck {
  private readonly namespaces = new Map<string, boolean>();
  private readonly workloads = new Map<string, string | undefined>();

  constructor(
    private readonly cluster: ClusterClient,
    private readonly label: string,
  ) {}

  async reason(pod: PodInfo): Promise<string | undefined> {
    if (optedOut(pod.labels, this.label)) return optOutNote(this.label, 'the pod');
    if (await this.namespaceOptedOut(pod.namespace)) return optOutNote(this.label, `namespace ${pod.namespace}`);
    const owner = pod.controller;
    if (owner === undefined || !isObjectName(owner.name)) return undefined;
    return this.workloadReason(pod.namespace, owner.kind, owner.name);
  }

  private async namespaceOptedOut(namespace: string): Promise<boolean> {
    let result = this.namespaces.get(namespace);
    if (result === undefined) {
      result = optedOut(await this.cluster.getNamespaceLabels(namespace), this.label);
      this.namespaces.set(namespace, result);
    }
    return result;
  }

  private async workloadReason(namespace: string, kind: string, name: string): Promise<string | undefined> {
    if (kind !== 'ReplicaSet' && kind !== 'StatefulSet' && kind !== 'Deployment') return undefined;
    const key = `${kind}/${namespace}/${name}`;
    if (this.workloads.has(key)) return this.workloads.get(key);
    const workload = await this.cluster.getWorkload(kind, namespace, name);
    let result: string | undefined;
    if (workload !== undefined && optedOut(workload.labels, this.label)) result = optOutNote(this.label, `${kind} ${name}`);
    else if (workload?.controller?.kind === 'Deployment' && isObjectName(workload.controller.name)) {
      result = await this.workloadReason(namespace, 'Deployment', workload.controller.name);
    }
    this.workloads.set(key, result);
    return result;
  }
}

interface EvictionOutcome {
  evicted: PodRef[];
  /** Already gone (404, or replaced under the same name) before the eviction. */
  gone: PodInfo[];
  /** Still refused by a PodDisruptionBudget: at the deadline, or (dry run) on the one try. */
  blocked: PodInfo[];
}

/**
 * Evicts every pod in parallel (up to EVICT_CONCURRENCY requests at once). A pod a
 * PodDisruptionBudget refuses (429) waits for that budget: the budget the 429 names is read every
 * PDB_POLL_MS, and as many of its waiting pods as its `disruptionsAllowed` permits are sent again
 * at once, so the next pod leaves as soon as the last one's replacement is Ready (kubectl sleeps
 * 5 s after every refusal). A refusal that names no budget is retried every EVICT_RETRY_MS, as
 * kubectl does. Until the deadline; a dry run tries once.
 */
async function evictAll(ctx: PlaybookContext, pods: PodInfo[], params: DrainGpuNodeParams, deadline: number): Promise<EvictionOutcome> {
  const outcome: EvictionOutcome = { evicted: [], gone: [], blocked: [] };
  const waiting = new Map<PodInfo, Refusal>();
  const evict = async (pod: PodInfo): Promise<void> => {
    try {
      const result = await ctx.cluster.evictPod(pod.namespace, pod.name, pod.uid, { dryRun: ctx.dryRun, gracePeriodSeconds: params.gracePeriodSeconds });
      waiting.delete(pod);
      if (result === 'gone') {
        outcome.gone.push(pod);
      } else {
        outcome.evicted.push(pod);
        await evictedEvent(ctx, pod);
      }
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 429) {
        const budget = refusingBudget(error);
        if (!waiting.has(pod)) ctx.log.info({ pod: `${pod.namespace}/${pod.name}`, budget }, 'eviction refused by a PodDisruptionBudget; retrying when it allows one');
        waiting.set(pod, { budget, retryAt: ctx.now() + EVICT_RETRY_MS, notBefore: ctx.now() + REFUSED_AGAIN_MS });
      } else if (error instanceof KubeApiError && error.code === 409 && (await isGone(ctx.cluster, pod))) {
        // The uid precondition failed because the pod was already replaced.
        waiting.delete(pod);
        outcome.gone.push(pod);
      } else {
        throw error;
      }
    }
  };
  await inParallel(pods, EVICT_CONCURRENCY, evict);
  while (waiting.size > 0 && !ctx.dryRun && ctx.now() < deadline) {
    const due = await podsDue(ctx, waiting);
    if (due.length === 0) {
      await ctx.sleep(Math.max(0, Math.min(PDB_POLL_MS, deadline - ctx.now())));
      continue;
    }
    await inParallel(due, EVICT_CONCURRENCY, evict);
  }
  outcome.blocked = [...waiting.keys()];
  return outcome;
}

/**
 * Why a pod waits: the budget that refused it (namespace-local name); when to retry whatever the
 * budget says (kubectl's 5 s); and before when not even on the budget's word, so a budget whose
 * status disagrees with the server's check is not answered with a request every poll.
 */
interface Refusal {
  budget?: string;
  retryAt: number;
  notBefore: number;
}

/** The budget a 429 names: "The disruption budget NAME needs N healthy pods and has M currently". */
function refusingBudget(error: KubeApiError): string | undefined {
  for (const cause of error.causes) {
    const name = /^The disruption budget (\S+) needs/.exec(cause.message ?? '')?.[1];
    if (name !== undefined && isObjectName(name)) return name;
  }
  return undefined;
}

/**
 * The waiting pods to send now: per budget, as many as it allows (all of them once it is gone);
 * a pod whose refusal named no budget once its blind retry is due.
 */
async function podsDue(ctx: PlaybookContext, waiting: ReadonlyMap<PodInfo, Refusal>): Promise<PodInfo[]> {
  const due: PodInfo[] = [];
  const byBudget = new Map<string, PodInfo[]>();
  for (const [pod, refusal] of waiting) {
    if (refusal.budget === undefined) {
      if (ctx.now() >= refusal.retryAt) due.push(pod);
      continue;
    }
    const key = `${pod.namespace}/${refusal.budget}`;
    byBudget.set(key, [...(byBudget.get(key) ?? []), pod]);
  }
  for (const [key, group] of byBudget) {
    const [namespace, name] = key.split('/') as [string, string];
    let allowed: number | undefined;
    try {
      allowed = await ctx.cluster.getDisruptionsAllowed(namespace, name);
    } catch (error) {
      // Not readable (a ClusterRole without `get poddisruptionbudgets`, an API error): the pods
      // are retried every 5 s, as kubectl does, instead of failing the drain.
      if (!(error instanceof KubeApiError)) throw error;
      ctx.log.warn({ budget: key, err: error }, 'cannot read the PodDisruptionBudget; retrying its pods every 5 s');
      allowed = 0;
    }
    // Gone: nothing guards these pods any more. Else as many as it allows, and each at least as
    // often as kubectl would send it (every 5 s), should the budget's status lag behind.
    const ready = group.filter((pod) => ctx.now() >= waiting.get(pod)!.notBefore);
    const chosen = new Set(allowed === undefined ? ready : ready.slice(0, Math.max(0, allowed)));
    for (const pod of group) if (ctx.now() >= waiting.get(pod)!.retryAt) chosen.add(pod);
    due.push(...chosen);
  }
  return due;
}

/** Runs `work` for every item, at most `limit` at once; the first error is thrown once all settled. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed) throw failed.error;
}

async function evictedEvent(ctx: PlaybookContext, pod: PodRef): Promise<void> {
  const what = `${ctx.dryRun ? 'would evict' : 'evicted'} pod ${pod.namespace}/${pod.name} to drain node ${pod.nodeName ?? ''}`;
  await ctx.event({ kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid }, 'RemediationEvict', what);
}

/**
 * Pods an earlier attempt of this run evicted that the node's listing no longer shows (gone, or
 * about to be): they still count as evicted by this drain, and are waited for.
 */
function evictedEarlier(ctx: PlaybookContext, node: string, listed: readonly PodInfo[]): PodRef[] {
  const pods = new Map<string, PodRef>();
  for (const step of ctx.previousSteps) {
    if (step.action !== 'evict' || step.result !== 'ok' || step.request.dryRun !== ctx.dryRun) continue;
    const intent = step.intent as { namespace?: unknown; name?: unknown; uid?: unknown } | undefined;
    if (typeof intent?.namespace !== 'string' || typeof intent.name !== 'string' || typeof intent.uid !== 'string') continue;
    if (listed.some((p) => p.uid === intent.uid)) continue;
    pods.set(intent.uid, { namespace: intent.namespace, name: intent.name, uid: intent.uid, nodeName: node, resumed: true });
  }
  return [...pods.values()];
}

function taintedByThisRun(ctx: PlaybookContext, name: string): boolean {
  return findCompletedStep(ctx.previousSteps, ctx.dryRun, { actions: ['taint'], object: nodeTarget(name), paths: [] }) !== undefined;
}

/** An earlier attempt of this run sent the cordon (and it was applied). */
function cordonedByThisRun(ctx: PlaybookContext, name: string): boolean {
  return findCompletedStep(ctx.previousSteps, ctx.dryRun, { actions: ['cordon'], object: nodeTarget(name), paths: [`/api/v1/nodes/${name}`] }) !== undefined;
}

/** Polls until every evicted pod is gone (404 or a new uid); returns those still there at the deadline. */
async function waitUntilGone(ctx: PlaybookContext, pods: PodRef[], deadline: number): Promise<PodRef[]> {
  let remaining = pods;
  for (;;) {
    remaining = await notGone(ctx.cluster, remaining);
    if (remaining.length === 0 || ctx.now() >= deadline) return remaining;
    await ctx.sleep(POLL_MS);
  }
}

async function notGone(cluster: ClusterClient, pods: PodRef[]): Promise<PodRef[]> {
  const remaining: PodRef[] = [];
  for (const pod of pods) if (!(await isGone(cluster, pod))) remaining.push(pod);
  return remaining;
}

async function isGone(cluster: ClusterClient, pod: PodRef): Promise<boolean> {
  const now = await cluster.getPod(pod.namespace, pod.name);
  return now === undefined || now.uid !== pod.uid;
}

/** A Deployment or StatefulSet whose pods the drain evicted. */
interface EvictedWorkload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  target: string;
}

interface EvictedWorkloads {
  workloads: EvictedWorkload[];
  /** Evicted pods whose workload is not checked, and why (said in the verdict). */
  unchecked: string[];
}

/**
 * The workloads of the evicted pods, once each: a ReplicaSet resolved to its Deployment, a
 * StatefulSet. Pods without a controller and DaemonSet pods have nothing to wait for.
 */
async function workloadsOf(cluster: ClusterClient, pods: readonly PodRef[]): Promise<EvictedWorkloads> {
  const found = new Map<string, EvictedWorkload>();
  const unchecked: string[] = [];
  const replicaSets = new Map<string, EvictedWorkload | undefined>();
  const add = (kind: WorkloadKind, namespace: string, name: string) => {
    const target = workloadTarget(kind, namespace, name);
    const workload = found.get(target) ?? { kind, namespace, name, target };
    found.set(target, workload);
    return workload;
  };
  for (const pod of pods) {
    const owner = pod.controller;
    if (pod.resumed) {
      unchecked.push(`${pod.namespace}/${pod.name} (evicted in an earlier attempt, its owner is not known)`);
      continue;
    }
    if (owner === undefined || owner.kind === 'DaemonSet') continue;
    if (!isObjectName(owner.name)) {
      unchecked.push(`${pod.namespace}/${pod.name} (controller ${owner.kind} has an unusable name)`);
      continue;
    }
    if (owner.kind === 'StatefulSet') {
      add('StatefulSet', pod.namespace, owner.name);
    } else if (owner.kind === 'ReplicaSet') {
      const key = `${pod.namespace}/${owner.name}`;
      if (!replicaSets.has(key)) {
        const rs = await cluster.getWorkload('ReplicaSet', pod.namespace, owner.name);
        const deployment = rs?.controller;
        replicaSets.set(key, deployment?.kind === 'Deployment' && isObjectName(deployment.name) ? add('Deployment', pod.namespace, deployment.name) : undefined);
      }
      if (replicaSets.get(key) === undefined) unchecked.push(`${pod.namespace}/${pod.name} (ReplicaSet ${owner.name} has no Deployment)`);
    }
    // Other controllers (Jobs, operators' custom resources) have no availability to wait for here.
  }
  return { workloads: [...found.values()], unchecked };
}

/**
 * The drain's health check: polls each workload until availableReplicas ≥ spec.replicas, up to the
 * drain's deadline, and reports the verdict. A workload deleted meanwhile has nothing to recover.
 */
async function waitForWorkloads(
  ctx: PlaybookContext,
  evicted: EvictedWorkloads,
  deadline: number,
  seconds: number,
): Promise<{ healthy: boolean; detail: string }> {
  /** Target → "3/3", listed in the workloads' order whenever each came back. */
  const back = new Map<string, string>();
  const gone: string[] = [];
  let pending = evicted.workloads;
  const notes = (): string =>
    [
      gone.length > 0 ? `; deleted meanwhile: ${gone.join(', ')}` : '',
      evicted.unchecked.length > 0 ? `; not checked: ${evicted.unchecked.join(', ')}` : '',
    ].join('');
  for (;;) {
    const still: EvictedWorkload[] = [];
    const short: string[] = [];
    for (const workload of pending) {
      const status = await ctx.cluster.getWorkloadStatus(workload.kind, workload.namespace, workload.name);
      if (status === undefined) gone.push(workload.target);
      else if (status.availableReplicas >= status.replicas) back.set(workload.target, `${workload.target} ${status.availableReplicas}/${status.replicas}`);
      else {
        still.push(workload);
        short.push(`${workload.target} ${status.availableReplicas} of ${status.replicas} available`);
      }
    }
    pending = still;
    if (pending.length === 0) {
      const listed = evicted.workloads.flatMap((w) => back.get(w.target) ?? []);
      const detail =
        evicted.workloads.length === 0
          ? `no evicted pod belongs to a Deployment or StatefulSet to wait for${notes()}`
          : listed.length === 0
            ? `no workload left to wait for${notes()}`
            : `${workloads(listed.length)} back at desired availability: ${listed.join(', ')}${notes()}`;
      await ctx.reportHealth('healthy', detail);
      return { healthy: true, detail };
    }
    if (ctx.now() >= deadline) {
      const total = evicted.workloads.length;
      const which = pending.length === total ? workloads(total) : `${pending.length} of ${workloads(total)}`;
      const detail = `${which} not back at desired availability within ${seconds}s: ${short.join(', ')}${notes()}`;
      await ctx.reportHealth('unhealthy', detail);
      return { healthy: false, detail };
    }
    await ctx.sleep(POLL_MS);
  }
}

function workloads(n: number): string {
  return `${n} ${n === 1 ? 'workload' : 'workloads'}`;
}

async function timedOut(ctx: PlaybookContext, ref: ObjectRef, cordon: CordonState, seconds: number, stillThere: PodRef[]): Promise<never> {
  const message = `drain timed out after ${seconds}s; still on node: ${list(stillThere)}`;
  await ctx.event(ref, 'RemediationDrain', `node ${ref.name}: ${message}`, 'Warning');
  await ctx.stampLastAction(ref, `${message}${cordonSuffix(cordon)}`, { cordoned: cordon !== 'theirs' });
  throw new PermanentError(message);
}

/** Read-modify-write of the whole list with the node's resourceVersion: other controllers' taints survive. */
async function addTaint(ctx: PlaybookContext, node: NodeInfo, wanted: TaintParams): Promise<boolean> {
  let current = node;
  for (let attempt = 1; ; attempt++) {
    const existing = current.taints.find((t) => t.key === wanted.key && t.effect === wanted.effect);
    if (existing !== undefined && (existing.value ?? '') === (wanted.value ?? '')) return false;
    const taint: Taint = { key: wanted.key, effect: wanted.effect, ...(wanted.value === undefined ? {} : { value: wanted.value }) };
    const taints = existing === undefined ? [...current.taints, taint] : current.taints.map((t) => (t === existing ? taint : t));
    try {
      await ctx.cluster.replaceNodeTaints(current.name, taints, current.resourceVersion, { dryRun: ctx.dryRun });
      return true;
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.code !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw error;
      const fresh = await ctx.cluster.getNode(current.name);
      if (fresh === undefined) throw new PermanentError(`node ${current.name} not found`);
      current = fresh;
    }
  }
}

/**
 * Whether a node that is already unschedulable was cordoned by remediator: by an earlier attempt
 * of this run, or by an earlier drain whose stamp is still on the node.
 */
function earlierCordonOf(ctx: PlaybookContext, name: string, node: NodeInfo): boolean {
  const step = findCompletedStep(ctx.previousSteps, ctx.dryRun, { actions: ['cordon'], object: nodeTarget(name), paths: [`/api/v1/nodes/${name}`] });
  return step !== undefined || cordonOwnership(node).ours;
}

/** Stamp suffix for the failure paths, so uncordon-node can tell whose cordon it would undo. */
function cordonSuffix(cordon: CordonState): string {
  return cordon === 'theirs' ? ` (node ${NOT_OUR_CORDON})` : '';
}

function describeTaint(taint: TaintParams): string {
  return `${taint.key}${taint.value === undefined ? '' : `=${taint.value}`}:${taint.effect}`;
}

function evictedText(evicted: PodRef[], gone: PodRef[], dry: boolean): string {
  const text = evicted.length === 0 ? `${dry ? 'evict' : 'evicted'} no pods` : `${dry ? 'evict' : 'evicted'} ${count(evicted.length)} (${list(evicted)})`;
  return gone.length === 0 ? text : `${text}; ${count(gone.length)} already gone (${list(gone)})`;
}

function count(n: number): string {
  return `${n} ${n === 1 ? 'pod' : 'pods'}`;
}

function list(pods: readonly PodRef[]): string {
  return pods.map((p) => `${p.namespace}/${p.name}`).join(', ');
}

