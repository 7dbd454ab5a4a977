import type { Alert } from '../domain/alert.js';
import type { EngineRule } from './engine-rule.js';
import type { AnyPlaybook } from './playbook.js';
import { invalidParamsReason } from './invalid-params-reason.js';
import { MissingLabelError, renderQuery } from './query-template.js';

/** What one rule would do with one alert, before any guard: its params, target and queries. */
export type AlertRunPlan =
  | { ok: true; playbook: AnyPlaybook; params: Record<string, unknown>; target: string; precheck?: string; verifyQuery?: string }
  | { ok: false; invalid: string };

/**
 * Params from the alert's labels merged under the rule's, checked by the playbook's schema; the
 * target; and, for a firing alert, the precheck and verify queries with its labels filled in.
 * The intake and the simulator share it, so a simulation says what the intake would decide.
 */
export function planAlertRun(alert: Alert, rule: EngineRule, playbooks: ReadonlyMap<string, AnyPlaybook>): AlertRunPlan {
  const playbook = playbooks.get(rule.playbook);
  if (!playbook) return { ok: false, invalid: `unknown playbook ${rule.playbook}` };
  const parsed = playbook.paramsSchema.safeParse({ ...playbook.paramsFromLabels(alert.labels), ...rule.params });
  if (!parsed.success) return { ok: false, invalid: invalidParamsReason(rule, playbook, alert.labels, parsed.error.issues) };
  let target: string;
  try {
    target = playbook.target(parsed.data);
  } catch (err) {
    return { ok: false, invalid: `rule ${rule.name}: ${(err as Error).message}` };
  }
  const plan: AlertRunPlan = { ok: true, playbook, params: parsed.data, target };
  if (alert.status === 'resolved') return plan;
  let which: 'precheck' | 'verify.query' = 'precheck';
  try {
    if (rule.precheck !== undefined) plan.precheck = renderQuery(rule.precheck, alert.labels);
    which = 'verify.query';
    if (rule.verify?.query !== undefined) plan.verifyQuery = renderQuery(rule.verify.query, alert.labels);
  } catch (err) {
    if (!(err instanceof MissingLabelError)) throw err;
    return { ok: false, invalid: `rule ${rule.name} needs label ${err.label} (its ${which} reads it); the alert has ${Object.keys(alert.labels).sort().join(', ') || 'no labels'}` };
  }
  return plan;
}
