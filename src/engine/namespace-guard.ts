import { parseTarget } from '../domain/target.js';
import type { EngineGuards } from './engine-rule.js';

/** `guards.namespaces`: applies to pod and workload targets; nodes are cluster-scoped. */
export function namespaceBlock(target: string, guards: Pick<EngineGuards, 'namespaces'>): string | undefined {
  const parsed = parseTarget(target);
  const ns = parsed?.namespace;
  if (!ns) return undefined;
  const { allow, deny } = guards.namespaces;
  if (allow && !allow.includes(ns)) return `namespace ${ns} is not in guards.namespaces.allow`;
  if (deny && deny.includes(ns)) return `namespace ${ns} is in guards.namespaces.deny`;
  return undefined;
}
