/**
 * raise-memory-limit: the usual escalation for an OOM loop. Raises one container's memory limit
 * in a Deployment's or StatefulSet's pod template by `factor` (default 1.5), rounded up to whole
 * Mi and capped at `maxLimit`, then waits for the rollout the template change triggers. The
 * memory request changes only when it would exceed the new limit (it is then set equal to the limit).
 *
 * The workload is `kind`/`name`, or, from an OOM alert, the owner of its `pod` resolved as
 * restart-oom-pod does (pod → ReplicaSet → Deployment, or the StatefulSet); the container is
 * `container`, which may be left out when the template has exactly one.
 *
 * Refuses (skipped) when the container has no memory limit (nothing to raise), when its limit is
 * already at or above maxLimit, when the template has no such container, and when the pod is
 * gone or not owned by a Deployment or StatefulSet. Blocked (guard opt_out) when the pod, its
 * owners, the workload or the namespace carry `<guards.optOutLabel>: "true"`. Fails when the
 * template has several containers and none is named.
 *
 * One strategic-merge patch of the template (containers merge by name, so nothing else
 * changes) with the resourceVersion it read as a precondition. A 409 fails the attempt
 * retryably; the retried job re-reads and moves toward the limit this run recorded before
 * sending (a retry that finds the limit at or above it is done), so an answer lost after the
 * server applied the patch never raises twice. The same patch sets `remediator.dev/last-action`,
 * so the raise and its stamp (the cooldown a wiped Redis relies on) land together or not at all.
 *
 * Health check (README "Closing the loop"): after a real change (also one an earlier attempt of the run made),
 * polls the workload until its controller observed the new generation and the rollout is
 * complete (every replica updated and available, no old pod left). Bounded by timeoutSeconds
 * (0 = no wait, no health check); past it the run fails saying what is missing, and the new
 * limit stays. Dry runs never wait.
 *
 * kubectl equivalent: `kubectl -n NS set resources deployment/NAME -c CONTAINER
 * --limits=memory=96Mi` (kubectl sends no resourceVersion precondition), then
 * `kubectl -n NS rollout status deployment/NAME --timeout=600s`.
 */
import { z } from 'zod';
import {
  assertNamespace,
  assertObjectName,
  definePlaybook,
  GuardBlockedError,
  PermanentError,
  podTarget,
  workloadTarget,
  type MemoryLimitChange,
  type ObjectRef,
  type PlaybookContext,
  type PlaybookOutcome,
  type RunStep,
  type TemplateContainer,
  type WorkloadKind,
  type WorkloadStatus,
} from '../src/engine/playbook.js';
import { parseTarget } from '../src/domain/target.js';
import { formatMemory, isPositiveMemoryQuantity, memoryBytes, scaleUpToMi } from '../src/domain/quantity.js';
import { isDnsLabelName, isNamespaceName, isObjectName, namespaceField, objectNameField, podParamsFromLabels, POD_PARAM_LABELS } from './label-params.js';
import { firstOptOut } from './opt-out.js';
import { resolveOwner, type OwnerLabels } from './pod-owner.js';
import { findCompletedStep, findInBody, findUnfinishedStep } from './previous-steps.js';

/** How often the health check reads the workload's status. */
const POLL_MS = 1000;

export const raiseMemoryLimitParams = z
  .strictObject({
    namespace: namespaceField().describe('Namespace of the workload'),
    kind: z
      .enum(['Deployment', 'StatefulSet'])
      .default('Deployment')
      .describe('Kind of the workload named by `name` (with `pod` alone the kind of the pod\'s owner counts)'),
    name: objectNameField('Name of the Deployment or StatefulSet (wins over `pod`)').optional(),
    pod: objectNameField('A pod of the workload, e.g. the OOM-killed one; its owning Deployment or StatefulSet is changed').optional(),
    container: z
      .string()
      .refine(isDnsLabelName, { message: 'must be a valid container name (DNS label)' })
      .optional()
      .describe('Container whose memory limit to raise; required unless the pod template has exactly one container'),
    factor: z.number().gt(1).default(1.5).describe('Multiply the memory limit by this (> 1); the result is rounded up to whole Mi'),
    maxLimit: z
      .string()
      .refine(isPositiveMemoryQuantity, { message: 'must be a Kubernetes memory quantity above 0, e.g. 64Gi' })
      .describe('Never raise the limit above this (a quantity, e.g. 64Gi)'),
    timeoutSeconds: z
      .int()
      .min(0)
      .default(600)
      .describe('How long the health check waits for the rollout to complete; 0 = do not wait'),
  })
  .refine((p) => p.name !== undefined || p.pod !== undefined, {
    message: 'give name (the workload) or pod (one of its pods)',
    path: ['name'],
  });

export type RaiseMemoryLimitParams = z.infer<typeof raiseMemoryLimitParams>;

export const raiseMemoryLimit = definePlaybook<RaiseMemoryLimitParams>({
  name: 'raise-memory-limit',
  description:
    "Raises a container's memory limit in a Deployment's or StatefulSet's pod template by a factor (rounded up to Mi, capped at maxLimit), then waits for the rollout.",
  destructive: true,
  paramsSchema: raiseMemoryLimitParams,

  paramsFromLabels: podParamsFromLabels,
  paramLabels: POD_PARAM_LABELS,

  target(params) {
    if (params.name !== undefined) return workloadTarget(params.kind, params.namespace, params.name);
    return podTarget(params.namespace, params.pod ?? '');
  },

  async resolveTarget(cluster, params) {
    if (params.name !== undefined || !isNamespaceName(params.namespace) || !isObjectName(params.pod)) return undefined;
    const pod = await cluster.getPod(params.namespace, params.pod);
    if (pod === undefined) return undefined;
    return (await resolveOwner(cluster, pod)).target;
  },

  async run(ctx, params) {
    const namespace = assertNamespace(params.namespace);
    const located = await locateWorkload(ctx, params, namespace);
    if ('skip' in located) return { result: 'skipped', reason: located.skip };
    const { kind, name } = located;
    const target = workloadTarget(kind, namespace, name);
    const ref: ObjectRef = { kind, namespace, name };
    const query = { actions: ['set_memory_limit'], object: target, paths: [workloadPath(kind, namespace, name)] };

    // A retried job resumes the same run: a raise that already went through is not sent again.
    const earlier = findCompletedStep(ctx.previousSteps, ctx.dryRun, query);
    if (earlier !== undefined) return resume(ctx, params, ref, target, earlier);

    const workload = await ctx.cluster.getWorkload(kind, namespace, name);
    const optOut = firstOptOut(ctx.optOutLabel, [
      ...located.sources,
      { what: `${kind} ${namespace}/${name}`, labels: workload?.labels },
      { what: `namespace ${namespace}`, labels: await ctx.cluster.getNamespaceLabels(namespace) },
    ]);
    if (optOut !== undefined) throw new GuardBlockedError('opt_out', `${target} is opted out (${optOut})`);

    const template = await ctx.cluster.getPodTemplate(kind, namespace, name);
    if (template === undefined) throw new PermanentError(`${target} not found`);
    const names = template.containers.map((c) => c.name);
    const containerName = params.container ?? (names.length === 1 ? names[0] : undefined);
    if (containerName === undefined) {
      throw new PermanentError(`${target} has ${names.length} containers (${names.join(', ')}); name the one to raise with the container param`);
    }
    const container = template.containers.find((c) => c.name === containerName);
    if (container === undefined) {
      return { result: 'skipped', reason: `${target} has no container ${containerName} in its pod template (containers: ${names.join(', ')})` };
    }
    const what = `container ${containerName} of ${target}`;
    if (container.memoryLimit === undefined) {
      return { result: 'skipped', reason: `nothing to raise: ${what} has no memory limit` };
    }
    const current = container.memoryLimitBytes;
    if (current === undefined) throw new PermanentError(`${what} has a memory limit "${container.memoryLimit}" that is not a quantity`);

    const plan = planFor(ctx, params, query, container, current, what);
    if ('outcome' in plan) return plan.outcome;

    const change: MemoryLimitChange = {
      container: containerName,
      limit: plan.limit,
      ...(container.memoryRequestBytes !== undefined && container.memoryRequestBytes > plan.limitBytes ? { request: plan.limit } : {}),
    };
    const capped = plan.capped ? ` (capped at maxLimit ${params.maxLimit})` : '';
    const request = change.request !== undefined ? `; request set to ${change.request} (it was ${container.memoryRequest}, above the new limit)` : '';
    const reason = `${ctx.dryRun ? 'would raise' : 'raised'} the memory limit of ${what} from ${container.memoryLimit} to ${plan.limit}${capped}${request}`;
    // A 409 (someone changed the workload since it was read) is retryable: the job is retried,
    // and the retry moves toward the limit recorded now (planFor), never past it. The stamp rides
    // in the same patch: a stamp sent after it would be lost if the attempt stopped in between.
    const annotations = ctx.lastActionAnnotation(reason);
    await ctx.cluster.setMemoryLimit(kind, namespace, name, change, template.resourceVersion, { dryRun: ctx.dryRun, annotations });
    await ctx.event(ref, 'RemediationMemoryLimit', reason);
    if (ctx.dryRun) return { result: 'changed', reason };
    if (params.timeoutSeconds === 0) return { result: 'changed', reason: `${reason}; not waiting for the rollout` };
    const health = await waitForRollout(ctx, ref, target, params.timeoutSeconds, reason);
    return { result: 'changed', reason: `${reason}; ${health}` };
  },
});

type Located = { kind: WorkloadKind; name: string; sources: OwnerLabels } | { skip: string };

/** The workload to change: named by the params, or the owner of the pod (the alert's). */
async function locateWorkload(ctx: PlaybookContext, params: RaiseMemoryLimitParams, namespace: string): Promise<Located> {
  if (params.name !== undefined) return { kind: params.kind, name: assertObjectName(params.name, `${params.kind} name`), sources: [] };
  const podName = assertObjectName(params.pod ?? '', 'pod name');
  const pod = await ctx.cluster.getPod(namespace, podName);
  if (pod === undefined) {
    // A retried attempt: the rollout of an earlier attempt replaced the pod. The worker resolved
    // the run's target from it before (the workload it locks).
    const resolved = parseTarget(ctx.target);
    if ((resolved?.kind === 'deployment' || resolved?.kind === 'statefulset') && resolved.namespace === namespace && isObjectName(resolved.name)) {
      return { kind: resolved.kind === 'deployment' ? 'Deployment' : 'StatefulSet', name: resolved.name, sources: [] };
    }
    return { skip: `pod ${namespace}/${podName} not found; cannot tell which workload to change` };
  }
  const owner = await resolveOwner(ctx.cluster, pod);
  const sources: OwnerLabels = [{ what: `pod ${namespace}/${podName}`, labels: pod.labels }, ...owner.workloads];
  const kind = owner.ref?.kind;
  if ((kind === 'Deployment' || kind === 'StatefulSet') && owner.ref !== undefined) return { kind, name: owner.ref.name, sources };
  const by = pod.controller === undefined ? 'has no controller' : `is owned by ${pod.controller.kind} ${pod.controller.name}`;
  return { skip: `pod ${namespace}/${podName} ${by}, not by a Deployment or StatefulSet whose pod template could be changed` };
}

type Plan = { limit: string; limitBytes: number; capped: boolean } | { outcome: PlaybookOutcome };

/**
 * The limit to set. An earlier attempt that recorded its intent but did not get it applied (a
 * 409, an answer lost and not found applied) decides it: the retry sends that limit, or is done
 * when the limit is already there or higher. Otherwise: current × factor, rounded up to whole Mi,
 * capped at maxLimit.
 */
function planFor(
  ctx: PlaybookContext,
  params: RaiseMemoryLimitParams,
  query: { actions: string[]; object: string; paths: string[] },
  container: TemplateContainer,
  current: number,
  what: string,
): Plan {
  const unfinished = findUnfinishedStep(ctx.previousSteps, ctx.dryRun, query);
  const recorded = unfinished === undefined ? undefined : recordedLimit(unfinished, container.name);
  if (recorded !== undefined) {
    if (current >= recorded.limitBytes) {
      const reason = `${what} already has memory limit ${container.memoryLimit} (this run meant to raise it to ${recorded.limit}); it was raised meanwhile`;
      return { outcome: { result: 'noop', reason } };
    }
    return { limit: recorded.limit, limitBytes: recorded.limitBytes, capped: recorded.capped };
  }
  const cap = memoryBytes(params.maxLimit)!;
  if (current >= cap) {
    return { outcome: { result: 'skipped', reason: `${what} already has memory limit ${container.memoryLimit}, at or above maxLimit ${params.maxLimit}` } };
  }
  const raised = scaleUpToMi(current, params.factor);
  if (raised >= cap) return { limit: params.maxLimit, limitBytes: cap, capped: raised > cap };
  return { limit: formatMemory(raised), limitBytes: raised, capped: false };
}

function recordedLimit(step: RunStep, container: string): { limit: string; limitBytes: number; capped: boolean } | undefined {
  const intent = step.intent as { type?: unknown; container?: unknown; limit?: unknown; limitBytes?: unknown } | undefined;
  if (intent?.type !== 'memory-limit' || intent.container !== container) return undefined;
  if (typeof intent.limit !== 'string' || typeof intent.limitBytes !== 'number') return undefined;
  return { limit: intent.limit, limitBytes: intent.limitBytes, capped: false };
}

/**
 * A retried job whose earlier attempt already raised the limit: never raise again, only mark
 * (a no-op when the earlier attempt got to it) and finish the health check.
 */
async function resume(ctx: PlaybookContext, params: RaiseMemoryLimitParams, ref: ObjectRef, target: string, earlier: RunStep): Promise<PlaybookOutcome> {
  const container = findInBody(earlier.intent, 'container') ?? params.container;
  const from = findInBody(earlier.intent, 'from');
  const to = findInBody(earlier.intent, 'limit');
  const change = `${typeof from === 'string' ? ` from ${from}` : ''}${typeof to === 'string' ? ` to ${to}` : ''}`;
  const what = typeof container === 'string' ? `container ${container} of ${target}` : target;
  const reason = `raised the memory limit of ${what}${change} in an earlier attempt of this run`;
  await ctx.event(ref, 'RemediationMemoryLimit', reason);
  await ctx.stampLastAction(ref, reason);
  if (ctx.dryRun || params.timeoutSeconds === 0) return { result: 'changed', reason };
  const health = await waitForRollout(ctx, ref, target, params.timeoutSeconds, reason);
  return { result: 'changed', reason: `${reason}; ${health}` };
}

/**
 * The health check: polls the workload's status once a second until the rollout of the new
 * template is complete (what `kubectl rollout status` waits for), and reports the verdict.
 * Returns the healthy detail; on timeout reports what is missing and throws PermanentError (the
 * new limit stays).
 */
async function waitForRollout(ctx: PlaybookContext, ref: ObjectRef, target: string, seconds: number, done: string): Promise<string> {
  const kind = ref.kind as WorkloadKind;
  const deadline = ctx.now() + seconds * 1000;
  for (;;) {
    const status = await ctx.cluster.getWorkloadStatus(kind, ref.namespace ?? '', ref.name);
    if (status === undefined) {
      const detail = `${target} is gone`;
      await ctx.reportHealth('unhealthy', detail);
      throw new PermanentError(`${done}, but ${detail}`);
    }
    const missing = rolloutMissing(kind, status);
    if (missing.length === 0) {
      const detail = `${target}: rollout complete, ${status.updatedReplicas}/${status.replicas} updated and available`;
      await ctx.reportHealth('healthy', detail);
      return detail;
    }
    if (ctx.now() >= deadline) {
      const detail = `${target}: ${missing.join(', ')} after ${seconds}s`;
      await ctx.reportHealth('unhealthy', detail);
      throw new PermanentError(`${done}, but the rollout did not complete: ${detail}`);
    }
    await ctx.sleep(POLL_MS);
  }
}

/** What the status still lacks for a complete rollout; empty when it is done. */
export function rolloutMissing(kind: WorkloadKind, status: WorkloadStatus): string[] {
  if (status.observedGeneration < status.generation) {
    return [`the ${kind} controller has not observed generation ${status.generation} yet (status is of ${status.observedGeneration})`];
  }
  const want = status.replicas;
  const missing: string[] = [];
  if (status.updatedReplicas < want) missing.push(`${status.updatedReplicas} of ${want} updated`);
  if (status.statusReplicas > status.updatedReplicas) missing.push(`${status.statusReplicas - status.updatedReplicas} old pods still running`);
  if (status.availableReplicas < want) missing.push(`${status.availableReplicas} of ${want} available`);
  return missing;
}

function workloadPath(kind: WorkloadKind, namespace: string, name: string): string {
  return `/apis/apps/v1/namespaces/${namespace}/${kind.toLowerCase()}s/${name}`;
}
