/**
 * uncordon-node: the aftermath of a drain. Once the node has recovered (an operator says so, or a
 * rule on a recovery alert such as GPUNodeRecovered), it undoes what drain-gpu-node did: removes
 * the taints remediator added and uncordons the node, then gives the node's claim on the node
 * budget (`guards.maxUnschedulableNodes`) back, so the next drain elsewhere may proceed.
 *
 * Only a cordon remediator made is undone. The node's `remediator.dev/last-action` annotation
 * must say a cordoning playbook (drain-gpu-node) acted last, and not that it found the node
 * already cordoned by someone else (drain's cordon and its stamp are one patch, so this holds
 * also when the drain then fails, is cancelled or dies). Refuses (skipped, the node stays as it is) a node a human or another tool
 * cordoned: no such annotation, or the last action was not a cordon by remediator; `force: true`
 * overrides. Taints: by default those whose key starts with `remediator.dev/` (remediator's own,
 * removed also from a schedulable node); with `taintKey`, those with exactly that key (outside
 * `remediator.dev/` only on a node remediator cordoned, or with force). Taints are removed
 * read-modify-write with the node's resourceVersion, never by replacing others' taints.
 * Refuses a node carrying `<guards.optOutLabel>: "true"`, even with force. Noop when the node
 * is schedulable and carries no such taint.
 *
 * Marks: a `RemediationUncordon` Event per change and the last-action annotation on the node.
 *
 * kubectl equivalent: `kubectl taint nodes NODE KEY-` (per removed taint key), then
 * `kubectl uncordon NODE`.
 */
import { z } from 'zod';
import {
  assertObjectName,
  definePlaybook,
  KubeApiError,
  nodeTarget,
  PermanentError,
  type NodeInfo,
  type ObjectRef,
  type PlaybookContext,
  type PlaybookOutcome,
  type Taint,
} from '../src/engine/playbook.js';
import { NODE_PARAM_LABELS, nodeParamFromLabels, objectNameField, QUALIFIED_NAME } from './label-params.js';
import { cordonOwnership, REMEDIATOR_TAINT_PREFIX } from './node-marks.js';
import { optedOut, optOutNote } from './opt-out.js';
import { findCompletedStep } from './previous-steps.js';

const MAX_CONFLICT_RETRIES = 5;

export const uncordonNodeParams = z.strictObject({
  node: objectNameField('Name of the node'),
  force: z.boolean().default(false).describe('Also uncordon a node remediator did not cordon (a human or another tool did)'),
  taintKey: z
    .string()
    .max(316)
    .regex(QUALIFIED_NAME, { message: 'must be a qualified name like example.com/gpu-overheated' })
    .optional()
    .describe(`Remove the taints with this key (default: every taint whose key starts with ${REMEDIATOR_TAINT_PREFIX})`),
});

export type UncordonNodeParams = z.infer<typeof uncordonNodeParams>;

export const uncordonNode = definePlaybook<UncordonNodeParams>({
  name: 'uncordon-node',
  description:
    'Undoes a drain once the node has recovered: removes the taints remediator added and uncordons a node remediator cordoned, then frees its node budget.',
  destructive: false,
  paramsSchema: uncordonNodeParams,

  paramsFromLabels(labels) {
    return nodeParamFromLabels(labels);
  },
  paramLabels: NODE_PARAM_LABELS,

  target(params) {
    return nodeTarget(params.node);
  },

  async run(ctx, params) {
    const name = assertObjectName(params.node, 'node name');
    const node = await ctx.cluster.getNode(name);
    if (node === undefined) throw new PermanentError(`node ${name} not found`);
    if (optedOut(node.labels, ctx.optOutLabel)) {
      return { result: 'skipped', reason: `node ${name} is opted out (${optOutNote(ctx.optOutLabel, `node ${name}`)})` };
    }

    const selector = taintSelector(params.taintKey);
    const taints = node.taints.filter(selector.matches);
    // A retried job resumes: what an earlier attempt of this run already undid is not judged again.
    const earlier = findCompletedStep(ctx.previousSteps, ctx.dryRun, {
      actions: ['uncordon', 'taint'],
      object: nodeTarget(name),
      paths: [`/api/v1/nodes/${name}`],
    });

    if (!node.unschedulable && taints.length === 0) {
      if (earlier !== undefined) {
        const reason = `uncordoned node ${name} in an earlier attempt of this run`;
        await resumedEvents(ctx, name, reason);
        return finish(ctx, name, reason);
      }
      // Schedulable: any claim on the budget left for it is stale.
      await ctx.releaseNodeBudget(name);
      return { result: 'noop', reason: `node ${name} is schedulable and has no ${selector.description}` };
    }

    const ownership = cordonOwnership(node);
    const needsOwnership = node.unschedulable || taints.some((t) => !t.key.startsWith(REMEDIATOR_TAINT_PREFIX));
    let note = ownership.ours ? ` (${ownership.summary})` : '';
    if (earlier === undefined && needsOwnership && !ownership.ours) {
      const what = node.unschedulable ? `node ${name} is cordoned, but not by remediator` : `node ${name} has ${describeTaints(taints)}, not added by remediator`;
      if (!params.force) {
        return { result: 'skipped', reason: `${what} (${ownership.why}); left as it is (set force: true to undo it anyway)` };
      }
      note = ` (force: not cordoned by remediator, ${ownership.why})`;
    }

    const ref: ObjectRef = { kind: 'Node', name };
    const dry = ctx.dryRun;
    const by = requestedBy(ctx);

    // Taints first: should the uncordon then fail, the node is still counted as unschedulable.
    let current = node;
    let removed: Taint[] = [];
    if (taints.length > 0) {
      ({ node: current, taints: removed } = await removeTaints(ctx, node, selector.matches));
      if (removed.length > 0) {
        await ctx.event(ref, 'RemediationUncordon', `${dry ? 'would remove' : 'removed'} ${describeTaints(removed)} from node ${name}${by}`, 'Normal', 'taint');
      }
    }
    const uncordon = current.unschedulable;
    if (uncordon) {
      await ctx.cluster.setUnschedulable(name, false, { dryRun: dry });
      await ctx.event(ref, 'RemediationUncordon', `${dry ? 'would uncordon' : 'uncordoned'} node ${name}${note}${by}`);
    }
    if (!uncordon && removed.length === 0) {
      // Someone else undid it between our read and our write.
      await ctx.releaseNodeBudget(name);
      return { result: 'noop', reason: `node ${name} became schedulable without ${selector.description} meanwhile` };
    }
    const taintText = removed.length === 0 ? '' : `${dry ? 'would remove' : 'removed'} ${describeTaints(removed)}`;
    const reason = uncordon
      ? `${dry ? 'would uncordon' : 'uncordoned'} node ${name}${note}${taintText === '' ? '' : `; ${taintText}`}`
      : `${taintText} from node ${name} (already schedulable)${note}`;
    await resumedEvents(ctx, name, reason);
    return finish(ctx, name, reason);
  },
});

/** The Events of what an earlier attempt undid; each is recorded once per run, so these are no-ops when it got to them. */
async function resumedEvents(ctx: PlaybookContext, name: string, reason: string): Promise<void> {
  const ref: ObjectRef = { kind: 'Node', name };
  const done = (action: string) => findCompletedStep(ctx.previousSteps, ctx.dryRun, { actions: [action], object: nodeTarget(name), paths: [] }) !== undefined;
  if (done('taint')) await ctx.event(ref, 'RemediationUncordon', reason, 'Normal', 'taint');
  if (done('uncordon')) await ctx.event(ref, 'RemediationUncordon', reason);
}

async function finish(ctx: PlaybookContext, name: string, reason: string): Promise<PlaybookOutcome> {
  await ctx.stampLastAction({ kind: 'Node', name }, reason);
  await ctx.releaseNodeBudget(name);
  return { result: 'changed', reason };
}

interface TaintSelector {
  matches(taint: Taint): boolean;
  /** For reasons: "remediator.dev/ taints", "taint with key K". */
  description: string;
}

function taintSelector(taintKey: string | undefined): TaintSelector {
  if (taintKey !== undefined) return { matches: (t) => t.key === taintKey, description: `taint with key ${taintKey}` };
  return { matches: (t) => t.key.startsWith(REMEDIATOR_TAINT_PREFIX), description: `${REMEDIATOR_TAINT_PREFIX} taints` };
}

/**
 * Read-modify-write of the whole list with the node's resourceVersion: taints others added, also
 * meanwhile, survive. Returns the node as written (or as re-read) and the taints removed.
 */
async function removeTaints(ctx: PlaybookContext, node: NodeInfo, matches: (t: Taint) => boolean): Promise<{ node: NodeInfo; taints: Taint[] }> {
  let current = node;
  for (let attempt = 1; ; attempt++) {
    const removed = current.taints.filter(matches);
    if (removed.length === 0) return { node: current, taints: [] };
    const kept = current.taints.filter((t) => !matches(t));
    try {
      const written = await ctx.cluster.replaceNodeTaints(current.name, kept, current.resourceVersion, { dryRun: ctx.dryRun });
      return { node: written, taints: removed };
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.code !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw error;
      ctx.log.info({ node: current.name, attempt }, 'taint conflict; re-reading');
      const fresh = await ctx.cluster.getNode(current.name);
      if (fresh === undefined) throw new PermanentError(`node ${current.name} not found`);
      current = fresh;
    }
  }
}

function describeTaints(taints: readonly Taint[]): string {
  const text = taints.map((t) => `${t.key}${t.value === undefined || t.value === '' ? '' : `=${t.value}`}:${t.effect}`).join(', ');
  return `${taints.length === 1 ? 'taint' : 'taints'} ${text}`;
}

function requestedBy(ctx: PlaybookContext): string {
  const { rule, operator } = ctx.requestedBy;
  if (operator !== undefined) return ` (requested by operator ${operator})`;
  if (rule !== undefined) return ` (requested by rule ${rule})`;
  return '';
}
