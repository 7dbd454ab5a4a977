/**
 * What remediator's marks on a node say about who cordoned it. The executor's
 * `stampLastAction` writes `remediator.dev/last-action` as JSON `{playbook, runId, rule,
 * operator, reason, time}`; a cordoning playbook sets it in the cordon's own patch with
 * `cordoned: true` (so it is there whatever happens to the rest of its work), and with
 * `cordoned: false` when it found the node already cordoned by someone else (NOT_OUR_CORDON), so
 * `uncordon-node` never undoes a human's cordon by mistake.
 */
import type { NodeInfo } from '../src/engine/playbook.js';

/** Same key as the executor's LAST_ACTION_ANNOTATION (src/engine/run-executor.ts). */
export const LAST_ACTION_ANNOTATION = 'remediator.dev/last-action';

/** Playbooks that cordon the node they act on; their stamp on an unschedulable node means "cordoned by us". */
export const CORDONING_PLAYBOOKS: readonly string[] = ['drain-gpu-node'];

/** In a cordoning playbook's stamp reason: it did not cordon the node, someone else had. */
export const NOT_OUR_CORDON = 'already cordoned, not by remediator';

/** Taints remediator adds live under this key prefix; uncordon-node removes them by default. */
export const REMEDIATOR_TAINT_PREFIX = 'remediator.dev/';

export interface LastAction {
  playbook?: string;
  runId?: string;
  rule?: string;
  operator?: string;
  reason?: string;
  time?: string;
  /** Set by cordoning playbooks: whether this service made the cordon. */
  cordoned?: boolean;
}

/** The parsed annotation; undefined when absent, `'unreadable'` when it is not the executor's JSON. */
export function readLastAction(annotations: Record<string, string>): LastAction | 'unreadable' | undefined {
  const raw = annotations[LAST_ACTION_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'unreadable';
    const record = value as Record<string, unknown>;
    const text = (key: string) => (typeof record[key] === 'string' ? { [key]: record[key] as string } : {});
    const cordoned = typeof record.cordoned === 'boolean' ? { cordoned: record.cordoned } : {};
    return { ...text('playbook'), ...text('runId'), ...text('rule'), ...text('operator'), ...text('reason'), ...text('time'), ...cordoned };
  } catch {
    return 'unreadable';
  }
}

export type CordonOwnership = { ours: true; by: LastAction; summary: string } | { ours: false; why: string };

/**
 * Whether the node's current cordon is remediator's: its last action is a cordoning playbook's
 * stamp that does not say the node was found already cordoned.
 */
export function cordonOwnership(node: NodeInfo): CordonOwnership {
  const last = readLastAction(node.annotations);
  if (last === undefined) return { ours: false, why: `it has no ${LAST_ACTION_ANNOTATION} annotation` };
  if (last === 'unreadable') return { ours: false, why: `its ${LAST_ACTION_ANNOTATION} annotation is not remediator's JSON` };
  const run = describeRun(last);
  if (last.playbook === undefined || !CORDONING_PLAYBOOKS.includes(last.playbook)) {
    return { ours: false, why: `its last remediator action was ${last.playbook ?? 'unnamed'}${run}, not a cordon` };
  }
  // The typed mark decides; the reason text is read only for stamps written before it existed.
  if (last.cordoned === false || (last.cordoned === undefined && last.reason?.includes(NOT_OUR_CORDON))) {
    return { ours: false, why: `${last.playbook}${run} found it ${NOT_OUR_CORDON}` };
  }
  return { ours: true, by: last, summary: `cordoned by ${last.playbook}${run}` };
}

function describeRun(last: LastAction): string {
  const parts = [
    last.runId === undefined ? undefined : `run ${last.runId}`,
    last.rule === undefined ? undefined : `rule ${last.rule}`,
    last.operator === undefined ? undefined : `operator ${last.operator}`,
    last.time === undefined ? undefined : `at ${last.time}`,
  ].filter((p): p is string => p !== undefined);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}
