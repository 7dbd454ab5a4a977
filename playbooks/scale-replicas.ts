/**
 * scale-replicas: sets a Deployment's or StatefulSet's replicas through the scale subresource,
 * to an absolute count or by a step, clamped to [minReplicas, maxReplicas].
 *
 * Refuses (skipped) when an HPA targets the workload: the HPA would undo the change within
 * ~15 s, so raise the HPA's minReplicas instead; and when the workload or its namespace carries
 * `<guards.optOutLabel>: "true"`. Noop when already there. Never moves against
 * the intended direction, also when a concurrent writer wins the resourceVersion race.
 *
 * kubectl equivalent: `kubectl -n NS scale deployment/NAME --replicas=N --resource-version=RV`
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
  type PlaybookOutcome,
  type ScaleInfo,
  type WorkloadKind,
} from '../src/engine/playbook.js';
import { firstValidLabel, isNamespaceName, isObjectName, namespaceField, objectNameField } from './label-params.js';
import { firstOptOut } from './opt-out.js';
import { findCompletedStep, findInBody } from './previous-steps.js';

/** A concurrent writer rarely wins more than once; past this the queue's backoff takes over. */
const MAX_CONFLICT_RETRIES = 5;

export const scaleReplicasParams = z
  .strictObject({
    namespace: namespaceField().describe('Namespace of the workload'),
    kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment').describe('Kind of the workload'),
    name: objectNameField('Name of the Deployment or StatefulSet'),
    replicas: z.int().min(0).optional().describe('Absolute replica count (exclusive with step)'),
    step: z.int().optional().describe('Replicas to add (negative to remove); 1 when neither replicas nor step is given'),
    minReplicas: z.int().min(0).default(1).describe('Never scale below this'),
    maxReplicas: z.int().min(0).describe('Never scale above this'),
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
      return { result: 'changed', reason };
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

    for (let attempt = 1; ; attempt++) {
      if (!movesToward(plan.direction, scale.replicas, plan.desired)) {
        return {
          result: 'noop',
          reason: `${target} already has ${scale.replicas} replicas (wanted ${plan.desired}); someone else scaled it meanwhile`,
        };
      }
      try {
        await ctx.cluster.patchScale(kind, namespace, name, plan.desired, scale.resourceVersion, { dryRun: ctx.dryRun });
        return finish(ctx, kind, namespace, name, target, scale.replicas, plan.desired);
      } catch (error) {
        if (!(error instanceof KubeApiError) || error.code !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw error;
        ctx.log.info({ target, attempt }, 'scale conflict; re-reading');
        scale = await readScale(ctx, kind, namespace, name, target);
      }
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

function earlierScale(ctx: PlaybookContext, kind: WorkloadKind, namespace: string, name: string, target: string): { to?: number } | undefined {
  const plural = kind === 'Deployment' ? 'deployments' : 'statefulsets';
  const step = findCompletedStep(ctx.previousSteps, ctx.dryRun, {
    actions: ['scale'],
    object: target,
    paths: [`/apis/apps/v1/namespaces/${namespace}/${plural}/${name}/scale`],
  });
  if (step === undefined) return undefined;
  const to = findInBody(step.request.body, 'replicas');
  return typeof to === 'number' ? { to } : {};
}

async function readScale(ctx: PlaybookContext, kind: WorkloadKind, namespace: string, name: string, target: string): Promise<ScaleInfo> {
  const scale = await ctx.cluster.getScale(kind, namespace, name);
  if (scale === undefined) throw new PermanentError(`${target} not found`);
  return scale;
}

async function finish(
  ctx: PlaybookContext,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  target: string,
  from: number,
  to: number,
): Promise<PlaybookOutcome> {
  const ref: ObjectRef = { kind, namespace, name };
  const reason = `${ctx.dryRun ? 'would scale' : 'scaled'} ${target} from ${from} to ${to}`;
  await ctx.event(ref, 'RemediationScale', reason);
  await ctx.stampLastAction(ref, reason);
  return { result: 'changed', reason };
}

function movesToward(direction: Direction, current: number, desired: number): boolean {
  return direction === 'up' ? current < desired : current > desired;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
