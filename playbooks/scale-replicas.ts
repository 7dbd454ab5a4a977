/**
 * scale-replicas: sets a Deployment's or StatefulSet's replicas through the scale subresource,
 * to an absolute count or by a step, clamped to [minReplicas, maxReplicas].
 *
 * Refuses (skipped) when an HPA targets the workload: the HPA would undo the change within
 * ~15 s, so raise the HPA's minReplicas instead; and when the workload or its namespace carries
 * `<guards.optOutLabel>: "true"`. Noop when already there. Never moves against
 * the intended direction, also when a concurrent writer wins the resourceVersion race.
 *
 * Stamps `remediator.dev/last-action` *before* the scale (then reads the scale again), so the
 * cooldown it carries survives an attempt stopped right after the scale; the Event follows it.
 *
 * Health check (README "Closing the loop"): after a real change (also one an earlier attempt of the run made),
 * polls the workload's status until its controller has observed the change and the rollout
 * reached the new count: scale-up → availableReplicas ≥ target; scale-down → status.replicas ≤
 * target and availableReplicas ≥ target; a Deployment also needs updatedReplicas ≥ target. Bounded
 * by waitForReadySeconds (0 = no wait, no health check); past it the run fails saying what is
 * missing, and the new count stays. Dry runs and noops never wait.
 *
 * kubectl equivalent: `kubectl -n NS annotate deployment/NAME --overwrite remediator.dev/last-action=…`,
 * `kubectl -n NS scale deployment/NAME --replicas=N --resource-version=RV`,
 * then `kubectl -n NS rollout status deployment/NAME --timeout=300s`.
 */
import { z } from 'zod';
import {
  assertNamespace,
  assertObjectName,
  definePlaybook,
  KubeApiError,
  PermanentError,
  workloadTarget,
  type ObjectRef,
  type PlaybookContext,
  type ScaleInfo,
  type WorkloadKind,
  type WorkloadStatus,
} from '../src/engine/playbook.js';
import { firstValidLabel, isNamespaceName, isObjectName, namespaceField, objectNameField } from './label-params.js';
import { firstOptOut } from './opt-out.js';
import { findCompletedStep, findInBody } from './previous-steps.js';

/** A concurrent writer rarely wins more than once; past this the queue's backoff takes over. */
const MAX_CONFLICT_RETRIES = 5;
/** How often the health check reads the workload's status. */
const POLL_MS = 1000;

export const scaleReplicasParams = z
  .strictObject({
    namespace: namespaceField().describe('Namespace of the workload'),
    kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment').describe('Kind of the workload'),
    name: objectNameField('Name of the Deployment or StatefulSet'),
    replicas: z.int().min(0).optional().describe('Absolute replica count (exclusive with step)'),
    step: z.int().optional().describe('Replicas to add (negative to remove); 1 when neither replicas nor step is given'),
    minReplicas: z.int().min(0).default(1).describe('Never scale below this'),
    maxReplicas: z.int().min(0).describe('Never scale above this'),
    waitForReadySeconds: z
      .int()
      .min(0)
      .default(300)
      .describe('How long the health check waits for the rollout to reach the new count available; 0 = do not wait'),
  })
  .refine((p) => p.replicas === undefined || p.step === undefined, {
    message: 'give either replicas or step, not both',
    path: ['step'],
  })
  .refine((p) => p.minReplicas <= p.maxReplicas, {
    message: 'minReplicas must not exceed maxReplicas',
    path: ['minReplicas'],
  });

export type ScaleReplicasParams = z.infer<typeof scaleReplicasParams>;

type Direction = 'up' | 'down';

export const scaleReplicas = definePlaybook<ScaleReplicasParams>({
  name: 'scale-replicas',
  description:
    'Scales a Deployment or StatefulSet by a step or to an absolute replica count within [minReplicas, maxReplicas], unless an HPA manages it.',
  destructive: false,
  paramsSchema: scaleReplicasParams,

  paramLabels: { namespace: ['namespace'], name: ['deployment', 'statefulset'] },

  paramsFromLabels(labels) {
    const params: Record<string, unknown> = {};
    if (isNamespaceName(labels.namespace)) params.namespace = labels.namespace;
    const deployment = firstValidLabel(labels, ['deployment'], isObjectName);
    const statefulset = firstValidLabel(labels, ['statefulset'], isObjectName);
    if (deployment !== undefined) Object.assign(params, { kind: 'Deployment', name: deployment });
    else if (statefulset !== undefined) Object.assign(params, { kind: 'StatefulSet', name: statefulset });
    return params;
  },

  target(params) {
    return workloadTarget(params.kind, params.namespace, params.name);
  },

  async run(ctx, params) {
    const namespace = assertNamespace(params.namespace);
    const name = assertObjectName(params.name, `${params.kind} name`);
    const kind = params.kind;
    const target = workloadTarget(kind, namespace, name);

    const hpa = await ctx.cluster.findHpaFor(kind, namespace, name);
    if (hpa !== undefined) {
      return { result: 'skipped', reason: `${target} is managed by HPA ${hpa}; raise the HPA's minReplicas instead` };
    }

    // A retried job resumes the same run: a step that already went through is not sent again.
    const earlier = earlierScale(ctx, kind, namespace, name, target);
    if (earlier !== undefined) {
      const reason = `scaled ${target}${earlier.to === undefined ? '' : ` to ${earlier.to}`} in an earlier attempt of this run`;
      // Recorded once per run: a no-op when the earlier attempt got to record it.
      await ctx.event({ kind, namespace, name }, 'RemediationScale', reason);
      await ctx.stampLastAction({ kind, namespace, name }, reason);
      if (ctx.dryRun || params.waitForReadySeconds === 0) return { result: 'changed', reason };
      // The count it scaled to; without it, whatever the spec says now.
      const to = earlier.to ?? (await ctx.cluster.getWorkloadStatus(kind, namespace, name))?.replicas;
      if (to === undefined) throw new PermanentError(`${reason}, but ${target} is gone`);
      const direction = earlier.from === undefined || earlier.from === to ? undefined : earlier.from < to ? 'up' : 'down';
      const health = await waitForRollout(ctx, { kind, namespace, name, target, replicas: to, direction }, params.waitForReadySeconds, reason);
      return { result: 'changed', reason: `${reason}; ${health}` };
    }

    const workload = await ctx.cluster.getWorkload(kind, namespace, name);
    const optOut = firstOptOut(ctx.optOutLabel, [
      { what: `${kind} ${namespace}/${name}`, labels: workload?.labels },
      { what: `namespace ${namespace}`, labels: await ctx.cluster.getNamespaceLabels(namespace) },
    ]);
    if (optOut !== undefined) return { result: 'skipped', reason: `${target} is opted out (${optOut})` };

    let scale = await readScale(ctx, kind, namespace, name, target);
    const initial = scale.replicas;
    const plan = planFor(params, initial, target);
    if (plan.direction === undefined || plan.desired === initial) {
      return { result: 'noop', reason: plan.why ?? `${target} already has ${initial} replicas` };
    }

    // The stamp goes first: the scale subresource cannot carry it, and a stamp written after the
    // scale is lost when the attempt stops in between (Redis wiped, lock lost, process killed),
    // and with it the cooldown a wiped Redis relies on. Like the Redis cooldown, it counts from
    // the decision to act. The stamp changes the resourceVersion, so the scale is planned again
    // from a fresh read.
    const ref: ObjectRef = { kind, namespace, name };
    await ctx.stampLastAction(ref, `${ctx.dryRun ? 'would scale' : 'scaling'} ${target} from ${initial} to ${plan.desired}`);
    scale = await readScale(ctx, kind, namespace, name, target);

    for (let attempt = 1; ; attempt++) {
      if (!movesToward(plan.direction, scale.replicas, plan.desired)) {
        return {
          result: 'noop',
          reason: `${target} already has ${scale.replicas} replicas (wanted ${plan.desired}); someone else scaled it meanwhile`,
        };
      }
      try {
        await ctx.cluster.patchScale(kind, namespace, name, plan.desired, scale.resourceVersion, { dryRun: ctx.dryRun });
      } catch (error) {
        if (!(error instanceof KubeApiError) || error.code !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw error;
        ctx.log.info({ target, attempt }, 'scale conflict; re-reading');
        scale = await readScale(ctx, kind, namespace, name, target);
        continue;
      }
      const reason = await mark(ctx, kind, namespace, name, target, scale.replicas, plan.desired);
      if (ctx.dryRun || params.waitForReadySeconds === 0) return { result: 'changed', reason };
      const goal: RolloutGoal = { kind, namespace, name, target, replicas: plan.desired, direction: plan.direction };
      const health = await waitForRollout(ctx, goal, params.waitForReadySeconds, reason);
      return { result: 'changed', reason: `${reason}; ${health}` };
    }
  },
});

interface Plan {
  desired: number;
  direction: Direction | undefined;
  /** Why there is nothing to do, when the clamp or a zero step decides it. */
  why?: string;
}

function planFor(params: ScaleReplicasParams, current: number, target: string): Plan {
  const { minReplicas: min, maxReplicas: max } = params;
  if (params.replicas !== undefined) {
    const desired = clamp(params.replicas, min, max);
    return { desired, direction: desired > current ? 'up' : desired < current ? 'down' : undefined };
  }
  const step = params.step ?? 1;
  if (step === 0) return { desired: current, direction: undefined, why: `step is 0; ${target} stays at ${current} replicas` };
  const direction: Direction = step > 0 ? 'up' : 'down';
  const desired = clamp(current + step, min, max);
  // The clamp may point the other way (a scale-up step on a workload above max): do no harm.
  if (!movesToward(direction, current, desired)) {
    const bound = direction === 'up' ? `maxReplicas ${max}` : `minReplicas ${min}`;
    return { desired: current, direction: undefined, why: `${target} has ${current} replicas, already at or beyond ${bound}` };
  }
  return { desired, direction };
}

function earlierScale(ctx: PlaybookContext, kind: WorkloadKind, namespace: string, name: string, target: string): { from?: number; to?: number } | undefined {
  const plural = kind === 'Deployment' ? 'deployments' : 'statefulsets';
  const step = findCompletedStep(ctx.previousSteps, ctx.dryRun, {
    actions: ['scale'],
    object: target,
    paths: [`/apis/apps/v1/namespaces/${namespace}/${plural}/${name}/scale`],
  });
  if (step === undefined) return undefined;
  const to = findInBody(step.request.body, 'replicas');
  // The recorded intent says where it scaled from (the direction the health check judges by).
  const from = findInBody(step.intent, 'from');
  return { ...(typeof to === 'number' ? { to } : {}), ...(typeof from === 'number' ? { from } : {}) };
}

async function readScale(ctx: PlaybookContext, kind: WorkloadKind, namespace: string, name: string, target: string): Promise<ScaleInfo> {
  const scale = await ctx.cluster.getScale(kind, namespace, name);
  if (scale === undefined) throw new PermanentError(`${target} not found`);
  return scale;
}

/** The Event of a scale (its stamp went before it); returns its reason. */
async function mark(ctx: PlaybookContext, kind: WorkloadKind, namespace: string, name: string, target: string, from: number, to: number): Promise<string> {
  const reason = `${ctx.dryRun ? 'would scale' : 'scaled'} ${target} from ${from} to ${to}`;
  await ctx.event({ kind, namespace, name }, 'RemediationScale', reason);
  return reason;
}

interface RolloutGoal {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  target: string;
  /** The count this run scaled to. */
  replicas: number;
  /** Unknown for a resumed attempt whose step did not record where it scaled from: both checks apply. */
  direction: Direction | undefined;
}

/**
 * The health check: polls the workload's status once a second until the rollout reached the goal
 * (`kubectl rollout status` judges the same fields), and reports the verdict. Returns the healthy
 * detail; on timeout reports what is missing and throws PermanentError (the change stays).
 */
async function waitForRollout(ctx: PlaybookContext, goal: RolloutGoal, seconds: number, done: string): Promise<string> {
  const deadline = ctx.now() + seconds * 1000;
  for (;;) {
    const status = await ctx.cluster.getWorkloadStatus(goal.kind, goal.namespace, goal.name);
    if (status === undefined) {
      const detail = `${goal.target} is gone`;
      await ctx.reportHealth('unhealthy', detail);
      throw new PermanentError(`${done}, but ${detail}`);
    }
    const missing = rolloutMissing(goal, status);
    if (missing.length === 0) {
      const detail = `${goal.target}: ${status.availableReplicas}/${goal.replicas} available`;
      await ctx.reportHealth('healthy', detail);
      return detail;
    }
    if (ctx.now() >= deadline) {
      const respec = status.replicas === goal.replicas ? '' : ` (spec.replicas is now ${status.replicas})`;
      const detail = `${goal.target}: ${missing.join(', ')} after ${seconds}s${respec}`;
      await ctx.reportHealth('unhealthy', detail);
      throw new PermanentError(`${done}, but the rollout did not complete: ${detail}`);
    }
    await ctx.sleep(POLL_MS);
  }
}

/** What the status still lacks for the goal; empty when the rollout is done. */
function rolloutMissing(goal: RolloutGoal, status: WorkloadStatus): string[] {
  const want = goal.replicas;
  if (status.observedGeneration < status.generation) {
    return [`the ${goal.kind} controller has not observed generation ${status.generation} yet (status is of ${status.observedGeneration})`];
  }
  const missing: string[] = [];
  if (goal.kind === 'Deployment' && status.updatedReplicas < want) missing.push(`${status.updatedReplicas} of ${want} updated`);
  if (status.availableReplicas < want) missing.push(`${status.availableReplicas} of ${want} available`);
  if (goal.direction !== 'up' && status.statusReplicas > want) missing.push(`${status.statusReplicas} replicas still running (want ${want})`);
  return missing;
}

function movesToward(direction: Direction, current: number, desired: number): boolean {
  return direction === 'up' ? current < desired : current > desired;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
