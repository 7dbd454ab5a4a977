import type { z } from 'zod';
import type { Logger } from 'pino';
import type { ClusterClient, ObjectRef } from '../kube/cluster-client.js';
import type { PlaybookOutcome, RunStep } from '../domain/run.js';

export type { PlaybookOutcome, RunStep } from '../domain/run.js';
export type {
  ClusterClient,
  MemoryLimitChange,
  ObjectRef,
  PodInfo,
  PodTemplateInfo,
  NodeInfo,
  ScaleInfo,
  Taint,
  TemplateContainer,
  WorkloadKind,
  WorkloadStatus,
} from '../kube/cluster-client.js';
export { KubeApiError, PermanentError, RetryableError, GuardBlockedError } from '../domain/errors.js';
export { assertNamespace, assertObjectName, nodeTarget, podTarget, workloadTarget } from '../domain/target.js';

/**
 * What a running playbook may use. `cluster` is a recording wrapper: every mutation through it
 * first re-checks the guards (pause, resolved alert, cooldown, opt-out; once per run), is sent with
 * `dryRun=All` when the run is dry (whatever the playbook passes), becomes a step of the run
 * record and an audit entry, and is counted in `remediator_actions_total`.
 */
export interface PlaybookContext {
  readonly runId: string;
  /** The target the worker locks (`resolveTarget`'s answer, e.g. a pod's owning Deployment). */
  readonly target: string;
  readonly dryRun: boolean;
  readonly log: Logger;
  readonly cluster: ClusterClient;
  /** Aborted on shutdown past the grace period or when an operator cancels between steps. */
  readonly signal: AbortSignal;
  /**
   * Steps recorded by earlier attempts of this run (a retried job resumes, never acts twice). Steps
   * whose answer was lost have been read back: `ok` means the change is there.
   */
  readonly previousSteps: readonly RunStep[];
  now(): number;
  /** Abortable sleep. Playbooks skip every wait when `dryRun`. */
  sleep(ms: number): Promise<void>;
  /**
   * Claims the node budget (`guards.maxUnschedulableNodes`) atomically, right before a cordon.
   * Throws GuardBlockedError('node_budget') when it is used up. A node that is already
   * unschedulable passes without using more budget.
   */
  claimNodeBudget(node: string): Promise<void>;
  /** Gives a node's claim on the node budget back (after an uncordon). No-op when dry. */
  releaseNodeBudget(node: string): Promise<void>;
  /** `guards.optOutLabel`: "true" on a node, workload, pod or namespace means never touched. */
  readonly optOutLabel: string;
  /** Who asked for this run: the rule name, or the operator of a manual run. */
  readonly requestedBy: { rule?: string; operator?: string };
  /**
   * Records a `Remediation*` Event on the object (dry-run aware, never fails the run). The Event's
   * name derives from the run, the object, reason, type and `key`, so a retried attempt that
   * records it again finds it there instead of adding a second one: give two different Events of
   * one run on one object with the same reason and type different keys.
   */
  event(ref: ObjectRef, reason: string, message: string, type?: 'Normal' | 'Warning', key?: string): Promise<void>;
  /**
   * The `remediator.dev/last-action` annotation as a map, for a mutation that sets it in the same
   * request (a cordon and its stamp are one patch).
   */
  lastActionAnnotation(reason: string, marks?: LastActionMarks): Record<string, string>;
  /**
   * Sets `remediator.dev/last-action` on the target object (dry-run aware). `marks` are typed facts
   * later runs read back (e.g. `cordoned: true` — this service cordoned the node).
   */
  stampLastAction(ref: ObjectRef, reason: string, marks?: LastActionMarks): Promise<void>;
  /**
   * Counts an action whose final result is an error even though no single request failed
   * permanently (e.g. an eviction still blocked by a PDB at the drain timeout).
   */
  countActionError(action: ActionName): void;
  /**
   * Records the built-in health check's verdict on the run and in the audit log (README "Closing the loop"):
   * `healthy` when the cluster shows the remediation worked (rollout at the new count, a Ready
   * replacement, evicted workloads available elsewhere), `unhealthy` with what is missing when
   * the wait timed out (the playbook then fails the run; the mutation stays). Dry runs never wait,
   * so they never report one.
   */
  reportHealth(result: 'healthy' | 'unhealthy', detail: string): Promise<void>;
}

/** Facts a playbook records in the last-action annotation, beyond its reason. */
export interface LastActionMarks {
  /** True when this service cordoned the node; false when it found the node cordoned by someone else. */
  cordoned?: boolean;
}

export const ACTION_NAMES = ['scale', 'delete_pod', 'evict', 'cordon', 'uncordon', 'taint', 'annotate', 'set_memory_limit'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

/**
 * A typed remediation. `paramsSchema` validates the merged params (alert-derived, then the rule's
 * or the operator's), and is served as JSON Schema. `run` returns an outcome or throws
 * (RetryableError/KubeApiError 409/429/5xx → retried; anything else → failed).
 */
export interface Playbook<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  readonly destructive: boolean;
  readonly paramsSchema: z.ZodType<P>;
  /** Params derived from alert labels; only keys the labels provide. Invalid or missing labels are left out. */
  paramsFromLabels(labels: Record<string, string>): Record<string, unknown>;
  /**
   * Which alert labels feed which param, in order of preference (`name: ['deployment',
   * 'statefulset']`), so a decision can say in words which label an alert lacked.
   */
  readonly paramLabels?: Readonly<Record<string, readonly string[]>>;
  /** Target key known without asking the cluster (used by the webhook's guards). */
  target(params: P): string;
  /**
   * Target the worker locks and cools down (e.g. a pod's owning Deployment). Read-only calls only.
   * Defaults to `target(params)`. Returns undefined when it cannot be resolved (the run then
   * proceeds with `target(params)` and `run` decides, typically `skipped`).
   */
  resolveTarget?(cluster: ClusterClient, params: P): Promise<string | undefined>;
  run(ctx: PlaybookContext, params: P): Promise<PlaybookOutcome>;
}

/** Erases the params type so a registry can hold playbooks of different params. */
export type AnyPlaybook = Playbook<any>;

export function definePlaybook<P extends Record<string, unknown>>(playbook: Playbook<P>): Playbook<P> {
  return playbook;
}
