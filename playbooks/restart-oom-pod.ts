/**
 * restart-oom-pod: restarts an OOM-killed pod by evicting it (PodDisruptionBudgets honoured) or
 * deleting it, with a uid precondition so a same-named replacement is never hit, then waits
 * until the owning workload has a Ready replacement.
 *
 * Refuses (skipped) when the pod is gone, when no container (or not the named one) was
 * OOMKilled (unless requireOOMKilled is false), and when nothing would recreate the pod (no
 * controller, unless allowUnmanaged). Blocked (guard opt_out) when the pod, its namespace or its
 * owning workload (ReplicaSet, Deployment, StatefulSet, DaemonSet) carries
 * `<guards.optOutLabel>: "true"`. Refuses gracePeriodSeconds 0 for StatefulSet pods.
 * A PDB that allows no disruption (429) fails the attempt retryably; the queue retries later.
 * The owning workload's `remediator.dev/last-action` stamp is written *before* the restart, so
 * the cooldown it carries survives an attempt stopped right after it; the Event follows it.
 *
 * Health check (README "Closing the loop"): that wait, bounded by waitForReadySeconds (0 = no wait, no health
 * check), reports its verdict: healthy with the Ready replacement, or (timeout) unhealthy with
 * what is missing, and the run fails; the restart is done and stays done. Dry runs never wait,
 * and nothing is waited for when nothing recreates the pod (no controller, or an owner that
 * cannot be followed).
 *
 * kubectl equivalent: `kubectl -n NS delete pod NAME` (method delete; kubectl has no direct
 * eviction verb, `kubectl drain` evicts), then `kubectl -n NS rollout status deployment/OWNER`.
 */
import { z } from 'zod';
import {
  assertNamespace,
  assertObjectName,
  definePlaybook,
  GuardBlockedError,
  KubeApiError,
  PermanentError,
  podTarget,
  workloadTarget,
  type ClusterClient,
  type ObjectRef,
  type PlaybookContext,
  type PlaybookOutcome,
  type PodInfo,
  type RunStep,
} from '../src/engine/playbook.js';
import { isDnsLabelName, isNamespaceName, isObjectName, namespaceField, objectNameField, podParamsFromLabels, POD_PARAM_LABELS } from './label-params.js';
import { firstOptOut } from './opt-out.js';
import { hasSelector, resolveOwner, type Owner } from './pod-owner.js';
import { findCompletedStep, findInBody } from './previous-steps.js';

const POLL_MS = 1000;

export const restartOomPodParams = z.strictObject({
  namespace: namespaceField().describe('Namespace of the pod'),
  pod: objectNameField('Name of the pod'),
  container: z
    .string()
    .refine(isDnsLabelName, { message: 'must be a valid container name (DNS label)' })
    .optional()
    .describe('Only this container counts for requireOOMKilled (default: any container)'),
  requireOOMKilled: z.boolean().default(true).describe("Skip unless a container's last or current termination reason is OOMKilled"),
  allowUnmanaged: z.boolean().default(false).describe('Also restart a pod without a controller (nothing recreates it)'),
  method: z.enum(['evict', 'delete']).default('evict').describe('evict honours PodDisruptionBudgets; delete bypasses them'),
  gracePeriodSeconds: z.int().min(0).optional().describe("Termination grace period (default: the pod's own)"),
  waitForReadySeconds: z.int().min(0).default(300).describe('How long to wait for a Ready replacement; 0 = do not wait'),
});

export type RestartOomPodParams = z.infer<typeof restartOomPodParams>;

export const restartOomPod = definePlaybook<RestartOomPodParams>({
  name: 'restart-oom-pod',
  description:
    'Evicts (or deletes) an OOM-killed pod so its controller recreates it, then waits until the replacement is Ready.',
  destructive: true,
  paramsSchema: restartOomPodParams,

  paramsFromLabels: podParamsFromLabels,
  paramLabels: POD_PARAM_LABELS,

  target(params) {
    return podTarget(params.namespace, params.pod);
  },

  async resolveTarget(cluster, params) {
    if (!isNamespaceName(params.namespace) || !isObjectName(params.pod)) return undefined;
    const pod = await cluster.getPod(params.namespace, params.pod);
    if (pod === undefined) return undefined;
    return (await resolveOwner(cluster, pod)).target;
  },

  async run(ctx, params) {
    const namespace = assertNamespace(params.namespace);
    const name = assertObjectName(params.pod, 'pod name');
    const podName = `${namespace}/${name}`;
    const pod = await ctx.cluster.getPod(namespace, name);

    const earlier = findCompletedStep(ctx.previousSteps, ctx.dryRun, {
      actions: ['evict', 'delete_pod'],
      object: podTarget(namespace, name),
      paths: [`/api/v1/namespaces/${namespace}/pods/${name}/eviction`, `/api/v1/namespaces/${namespace}/pods/${name}`],
    });
    if (earlier !== undefined) return resume(ctx, params, earlier, pod);

    if (pod === undefined) return { result: 'skipped', reason: `pod ${podName} not found` };

    let oomNote = '';
    if (params.requireOOMKilled) {
      const candidates = params.container === undefined ? pod.containers : pod.containers.filter((c) => c.name === params.container);
      if (params.container !== undefined && candidates.length === 0) {
        return { result: 'skipped', reason: `pod ${podName} has no container ${params.container}` };
      }
      const oom = candidates.find((c) => c.lastTerminationReason === 'OOMKilled' || c.currentTerminationReason === 'OOMKilled');
      if (oom === undefined) {
        const reason =
          params.container === undefined
            ? `no container of pod ${podName} was OOMKilled`
            : `container ${params.container} of pod ${podName} was not OOMKilled`;
        return { result: 'skipped', reason };
      }
      oomNote = ` (OOMKilled container ${oom.name})`;
    }
    if (pod.controller === undefined && !params.allowUnmanaged) {
      return { result: 'skipped', reason: `pod ${podName} has no controller; set allowUnmanaged to restart it anyway (nothing will recreate it)` };
    }

    const owner = await resolveOwner(ctx.cluster, pod);
    const optOut = firstOptOut(ctx.optOutLabel, [
      { what: `pod ${podName}`, labels: pod.labels },
      ...owner.workloads,
      { what: `namespace ${namespace}`, labels: await ctx.cluster.getNamespaceLabels(namespace) },
    ]);
    // Opt-out is a guard (README "How an alert becomes an action"): the run ends blocked{opt_out}, like a target opted out at the worker.
    if (optOut !== undefined) throw new GuardBlockedError('opt_out', `pod ${podName} is opted out (${optOut})`);
    if (owner.follow === 'same-name' && params.gracePeriodSeconds === 0) {
      // A StatefulSet pod removed with grace 0 may still run while its same-named replacement starts.
      throw new PermanentError(`gracePeriodSeconds 0 is refused for StatefulSet pod ${podName}`);
    }
    const willWait = !ctx.dryRun && params.waitForReadySeconds > 0 && owner.follow !== 'none';
    const existing = willWait && owner.follow === 'selector' ? await podUids(ctx.cluster, namespace, owner.selector) : new Set<string>();

    const verb = params.method === 'evict' ? 'evicted' : 'deleted';
    const opts = { dryRun: ctx.dryRun, gracePeriodSeconds: params.gracePeriodSeconds };
    // The owner's stamp goes first: written after the restart, it is lost when the attempt stops
    // in between, and with it the cooldown a wiped Redis relies on (it counts from the decision,
    // like the Redis cooldown).
    if (owner.ref !== undefined) await ctx.stampLastAction(owner.ref, `${ctx.dryRun ? `would ${params.method}` : params.method === 'evict' ? 'evicting' : 'deleting'} pod ${podName}${oomNote}`);
    let result: 'evicted' | 'deleted' | 'gone';
    try {
      result =
        params.method === 'evict'
          ? await ctx.cluster.evictPod(namespace, name, pod.uid, opts)
          : await ctx.cluster.deletePod(namespace, name, pod.uid, opts);
    } catch (error) {
      // 409 = the uid precondition failed: the pod we judged is already gone and replaced.
      if (error instanceof KubeApiError && error.code === 409) {
        const now = await ctx.cluster.getPod(namespace, name);
        if (now === undefined || now.uid !== pod.uid) return { result: 'noop', reason: `pod ${podName} was already replaced` };
      }
      throw error;
    }
    if (result === 'gone') return { result: 'noop', reason: `pod ${podName} was already gone` };

    const done = `${ctx.dryRun ? `would ${params.method}` : verb} pod ${podName}${oomNote}`;
    await ctx.event({ kind: 'Pod', namespace, name, uid: pod.uid }, 'RemediationRestart', done);

    if (ctx.dryRun) return { result: 'changed', reason: done };
    if (params.waitForReadySeconds === 0) return { result: 'changed', reason: `${done}; not waiting for a replacement` };
    if (owner.follow === 'none') return { result: 'changed', reason: `${done}; ${owner.whyNotFollowed}` };
    const replacement = await waitForReplacement(ctx, owner, namespace, name, pod.uid, existing, undefined, params.waitForReadySeconds, done);
    return { result: 'changed', reason: `${done}; replacement ${namespace}/${replacement} Ready` };
  },
});

/**
 * A retried job whose earlier attempt already restarted the pod: never restart again (the pod
 * there now may be the replacement), only finish the wait.
 */
async function resume(ctx: PlaybookContext, params: RestartOomPodParams, earlier: RunStep, pod: PodInfo | undefined): Promise<PlaybookOutcome> {
  const { namespace, pod: name } = params;
  const uid = findInBody(earlier.request.body, 'uid');
  const oldUid = typeof uid === 'string' ? uid : undefined;
  const verb = earlier.action === 'delete_pod' ? 'deleted' : 'evicted';
  const done = `${verb} pod ${namespace}/${name} in an earlier attempt of this run`;

  const owner = pod?.controller !== undefined ? await resolveOwner(ctx.cluster, pod) : await ownerFromTarget(ctx, namespace);
  // Recorded once per run: a no-op when the earlier attempt got to record it.
  await ctx.event({ kind: 'Pod', namespace, name, ...(oldUid === undefined ? {} : { uid: oldUid }) }, 'RemediationRestart', done);
  if (owner?.ref !== undefined) await ctx.stampLastAction(owner.ref, done);
  if (ctx.dryRun || params.waitForReadySeconds === 0) return { result: 'changed', reason: done };
  if (owner === undefined) return { result: 'changed', reason: `${done}; replacement not checked (owner unknown)` };
  if (owner.follow === 'none') return { result: 'changed', reason: `${done}; ${owner.whyNotFollowed}` };

  // Without a snapshot from before the restart, pods created since the restart count as replacements.
  // The step's time is when the answer came back, and creationTimestamp has whole seconds: compare
  // at the second, with a second's slack for the answer's latency (and clock skew).
  const at = Date.parse(earlier.at);
  const createdAfter = Number.isNaN(at) ? undefined : Math.floor(at / 1000) * 1000 - 1000;
  const replacement = await waitForReplacement(ctx, owner, namespace, name, oldUid, new Set(), createdAfter, params.waitForReadySeconds, done);
  return { result: 'changed', reason: `${done}; replacement ${namespace}/${replacement} Ready` };
}

/**
 * The pod is gone with its ownerReference; the run's target is the owner the worker resolved
 * before the restart (the workload it locks).
 */
async function ownerFromTarget(ctx: PlaybookContext, namespace: string): Promise<Owner | undefined> {
  const [kind, ns, workload, ...rest] = ctx.target.split('/');
  if (ns !== namespace || workload === undefined || rest.length > 0 || !isObjectName(workload)) return undefined;
  if (kind === 'statefulset') {
    return { workloads: [], target: workloadTarget('StatefulSet', namespace, workload), ref: { kind: 'StatefulSet', namespace, name: workload }, follow: 'same-name' };
  }
  if (kind !== 'deployment') return undefined;
  const info = await ctx.cluster.getWorkload('Deployment', namespace, workload);
  const ref: ObjectRef = { kind: 'Deployment', namespace, name: workload };
  const target = workloadTarget('Deployment', namespace, workload);
  if (info === undefined || !hasSelector(info.selector)) {
    return { workloads: [], target, ref, follow: 'none', whyNotFollowed: 'replacement not checked (Deployment not readable)' };
  }
  return { workloads: [], target, ref, follow: 'selector', selector: info.selector };
}

async function waitForReplacement(
  ctx: PlaybookContext,
  owner: Exclude<Owner, { follow: 'none' }>,
  namespace: string,
  name: string,
  oldUid: string | undefined,
  existing: ReadonlySet<string>,
  createdAfter: number | undefined,
  seconds: number,
  done: string,
): Promise<string> {
  const deadline = ctx.now() + seconds * 1000;
  const isNew = (p: PodInfo) =>
    p.uid !== oldUid && !existing.has(p.uid) && (createdAfter === undefined || (p.createdAt !== undefined && Date.parse(p.createdAt) >= createdAfter));
  for (;;) {
    const candidates =
      owner.follow === 'same-name'
        ? [await ctx.cluster.getPod(namespace, name)].filter((p): p is PodInfo => p !== undefined)
        : await ctx.cluster.listPods(namespace, owner.selector);
    const replacement = candidates.find((p) => p.ready && !p.terminating && isNew(p));
    if (replacement !== undefined) {
      await ctx.reportHealth('healthy', `${owner.target}: replacement ${namespace}/${replacement.name} Ready`);
      return replacement.name;
    }
    if (ctx.now() >= deadline) {
      const fresh = candidates.filter((p) => !p.terminating && isNew(p));
      const seen =
        fresh.length > 0
          ? `${fresh.map((p) => `${namespace}/${p.name}`).join(', ')} not Ready`
          : candidates.some((p) => p.uid === oldUid)
            ? 'the restarted pod is still there'
            : 'no replacement pod yet';
      await ctx.reportHealth('unhealthy', `${owner.target}: no Ready replacement for pod ${namespace}/${name} after ${seconds}s (${seen})`);
      throw new PermanentError(`${done}, but its replacement was not Ready within ${seconds}s (${seen})`);
    }
    await ctx.sleep(POLL_MS);
  }
}

async function podUids(cluster: ClusterClient, namespace: string, selector: Record<string, string>): Promise<Set<string>> {
  return new Set((await cluster.listPods(namespace, selector)).map((p) => p.uid));
}
