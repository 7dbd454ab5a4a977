import { parseTarget } from '../domain/target.js';
import type { AnyPlaybook } from './playbook.js';

/** Params a target names: `deployment/ns/x` → {namespace, kind, name}; `node/x` → {node}; `pod/ns/x` → {namespace, pod}. */
export function paramsFromTarget(target: string): Record<string, unknown> {
  const t = parseTarget(target);
  if (!t) return {};
  if (t.kind === 'node') return { node: t.name };
  if (t.kind === 'pod') return { namespace: t.namespace, pod: t.name };
  return { namespace: t.namespace, kind: t.kind === 'deployment' ? 'Deployment' : 'StatefulSet', name: t.name };
}

/**
 * The params of an escalation's follow-up run: what the alert's labels give the follow-up
 * playbook, then what the escalated run's target names (the same object, or the workload a pod
 * run resolved to), then the rule's `escalate.playbook.params`. Keys the playbook's schema does not
 * know (a target-derived `kind` for a playbook that has none) are left out rather than refused.
 */
export function followUpParams(
  playbook: AnyPlaybook,
  labels: Record<string, string>,
  target: string,
  configured: Record<string, unknown>,
): { ok: true; params: Record<string, unknown> } | { ok: false; problems: string[] } {
  let merged: Record<string, unknown> = { ...playbook.paramsFromLabels(labels), ...paramsFromTarget(target), ...configured };
  for (let round = 0; round < 2; round++) {
    const parsed = playbook.paramsSchema.safeParse(merged);
    if (parsed.success) return { ok: true, params: parsed.data };
    const unknown = parsed.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys : []));
    const droppable = unknown.filter((k) => !(k in configured));
    if (round === 1 || droppable.length === 0) {
      return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`) };
    }
    merged = Object.fromEntries(Object.entries(merged).filter(([k]) => !droppable.includes(k)));
  }
  return { ok: false, problems: ['unreachable'] };
}
