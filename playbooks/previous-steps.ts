/**
 * A retried job resumes the same run: before acting, playbooks look at the steps earlier attempts
 * recorded, so a step that already went through is never sent twice (a second `step: +1` would
 * scale twice; a second eviction could hit the replacement).
 */
import type { RunStep } from '../src/engine/playbook.js';

export interface StepQuery {
  actions: readonly string[];
  /** Target notation of the object, e.g. `pod/ns/name`. */
  object: string;
  /** Request paths that identify the object when `object` is written differently. */
  paths: readonly string[];
}

/** The latest earlier step that really changed the object (dry-run steps never count for a real run). */
export function findCompletedStep(steps: readonly RunStep[], dryRun: boolean, query: StepQuery): RunStep | undefined {
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (!query.actions.includes(step.action)) continue;
    if (step.result !== 'ok' && step.result !== 'dry_run') continue;
    if (step.request.dryRun && !dryRun) continue;
    const path = step.request.path.split('?')[0] ?? '';
    if (step.object === query.object || query.paths.includes(path)) return step;
  }
  return undefined;
}

/** Depth-first search of a request body for `key` (bodies differ between PATCH, DELETE and eviction). */
export function findInBody(body: unknown, key: string, depth = 0): unknown {
  if (depth > 6 || body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  if (key in record) return record[key];
  for (const value of Object.values(record)) {
    const found = findInBody(value, key, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The latest earlier step of these actions on the object that carries a recorded intent but did
 * not go through (a 409, or an answer lost and not found applied when read back): a retry moves
 * toward that intent instead of deriving a new one from what it reads now.
 */
export function findUnfinishedStep(steps: readonly RunStep[], dryRun: boolean, query: StepQuery): RunStep | undefined {
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (!query.actions.includes(step.action)) continue;
    if (step.request.dryRun && !dryRun) continue;
    const path = step.request.path.split('?')[0] ?? '';
    if (step.object !== query.object && !query.paths.includes(path)) continue;
    if (step.result !== 'error' && step.result !== 'pending') return undefined;
    if (step.intent !== undefined) return step;
  }
  return undefined;
}
