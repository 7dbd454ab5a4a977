import { z } from 'zod';
import { RUN_SOURCES, RUN_STATUSES } from '../domain/run.js';
import { GUARD_NAMES } from '../domain/errors.js';
import { DECISIONS } from '../observability/metrics.js';
import { OPERATOR_ACTIONS } from '../audit/audit-entry.js';

/*
 * The JSON shapes of the HTTP API, written once as zod schemas and turned into the JSON Schemas
 * of `GET /api/v1/openapi.json` (components/schemas). The handlers validate their input by hand
 * and build their output from the domain types, so these schemas are the description, not the
 * parser: test/unit/docs/openapi-types.test.ts fails to compile when a domain type
 * (src/domain/run.ts, src/audit/audit-entry.ts, …) and its schema here disagree, and
 * test/integration/openapi.test.ts validates real responses against the served document.
 *
 * Closed objects (`z.strictObject`, JSON Schema `additionalProperties: false`) wherever the API
 * is closed. Open ones (`z.looseObject`) only where a reader must accept fields it does not know:
 * the webhook body (Alertmanager adds fields) and audit entries (written by Lua scripts too).
 */

/** A component schema: registered under `id`, referenced as `#/components/schemas/{id}`. */
export const apiSchemas = z.registry<{ id: string }>();

function component<T extends z.ZodType>(id: string, schema: T): T {
  apiSchemas.add(schema, { id });
  return schema;
}

/** An instant this service wrote: `Date#toISOString()` (UTC, milliseconds). */
const instant = z.iso.datetime();
const labels = z.record(z.string(), z.string());

// ---- errors -----------------------------------------------------------------------------------

export const ErrorDetail = component(
  'ErrorDetail',
  z.strictObject({
    path: z.string().describe('where the problem is: a body or query key (`params.maxReplicas`, `since`), or `(body)`'),
    message: z.string(),
  }),
);

export const ErrorBody = component(
  'Error',
  z
    .strictObject({
      error: z.string().describe('a stable code: bad_request, invalid_request, unauthorized, forbidden, not_found, too_many_requests, payload_too_large, unavailable, internal'),
      message: z.string().describe('for people; may change between versions'),
      details: z.array(ErrorDetail).optional().describe('every problem of a 400, each with its path'),
    })
    .describe('Every error answer: `{error, message, details?}`. 409 answers add the fields of their own schema.'),
);

export const BlockedError = component(
  'BlockedError',
  z
    .strictObject({
      error: z.literal('blocked'),
      message: z.string(),
      guard: z.enum(GUARD_NAMES),
      runId: z.string().describe('the run recorded as `blocked`'),
    })
    .describe('409 of POST /api/v1/runs: a global guard refused the manual run (it is recorded, blocked).'),
);

export const StatusConflictError = component(
  'StatusConflictError',
  z
    .strictObject({
      error: z.literal('conflict'),
      message: z.string(),
      status: z.enum(RUN_STATUSES).describe('the status that prevented the decision'),
    })
    .describe('409: the run is not in a status the decision applies to (approve/reject: awaiting_approval; cancel: queued, awaiting_approval or running).'),
);

export const NotHeldError = component(
  'NotHeldError',
  z
    .strictObject({
      error: z.literal('not_held'),
      message: z.string(),
      target: z.string(),
    })
    .describe('409 of ack: no escalation of this run (or of the run it came from) holds its target.'),
);

// ---- alerts (webhook) -------------------------------------------------------------------------

export const WebhookAlert = component(
  'WebhookAlert',
  z
    .looseObject({
      status: z.enum(['firing', 'resolved']),
      labels,
      annotations: labels.optional(),
      startsAt: z.string().describe('RFC 3339; part of the episode identity, used verbatim'),
      endsAt: z.string().optional().describe("RFC 3339; Go's zero time (0001-01-01T00:00:00Z) while firing"),
      generatorURL: z.string().optional(),
      fingerprint: z.string().describe('at most 256 characters'),
    })
    .describe(
      'One alert as Alertmanager sends it. An alert that does not fit (a missing fingerprint, a non-string label value, a bad timestamp) does not fail the notification: it gets its own `invalid_params` decision and the others proceed. Unknown fields are ignored.',
    ),
);

export const WebhookNotification = component(
  'WebhookNotification',
  z
    .looseObject({
      version: z.string().optional(),
      groupKey: z.string().optional(),
      truncatedAlerts: z.int().min(0).optional().describe('alerts Alertmanager dropped for good (max_alerts); counted in remediator_alerts_truncated_total'),
      status: z.enum(['firing', 'resolved']).optional(),
      receiver: z.string().optional(),
      groupLabels: labels.optional(),
      commonLabels: labels.optional(),
      commonAnnotations: labels.optional(),
      externalURL: z.string().optional(),
      alerts: z.array(WebhookAlert),
    })
    .describe(
      'An Alertmanager webhook notification (version 4). Lenient: only an unusable envelope (not a JSON object, no `alerts` array) is a 400; fields Alertmanager adds in newer versions are ignored.',
    ),
);

export const AlertDecision = component(
  'AlertDecision',
  z.strictObject({
    fingerprint: z.string().describe('empty when the alert had none'),
    status: z.enum(['firing', 'resolved', 'invalid']).describe('`invalid`: the alert itself did not fit (see reason)'),
    rule: z.string().nullable().describe('the rule that decided, or null (unmatched, invalid)'),
    decision: z.enum(DECISIONS),
    runId: z.string().optional().describe('the run created, or the one a duplicate or resolution refers to'),
    guard: z.enum(GUARD_NAMES).optional().describe('with decision `blocked`'),
    reason: z.string().optional(),
  }),
);

export const IntakeResult = component(
  'IntakeResult',
  z
    .strictObject({
      received: z.int().min(0).describe('alerts in the notification'),
      decisions: z.array(AlertDecision).describe('one per alert and deciding rule (a rule with `continue: true` lets later rules decide too)'),
    })
    .describe('Sent only once every decision is durably in Redis.'),
);

export const InboxItem = component(
  'InboxItem',
  z.strictObject({
    fingerprint: z.string().describe('empty when the alert had none'),
    alertname: z.string(),
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()),
    generatorURL: z.string().describe('empty when the alert had none'),
    status: z.enum(['firing', 'resolved', 'invalid']).describe('the latest notification\'s'),
    startsAt: z.string(),
    firstSeenAt: z.iso.datetime(),
    lastSeenAt: z.iso.datetime(),
    seen: z.int().min(1).describe('times the webhook received it (repeats are counted within about a second)'),
    rule: z.string().describe('the rule of the episode, or `none` (unmatched, malformed)'),
    decision: z.enum(DECISIONS).describe('the latest decision that was not `duplicate`'),
    runId: z.string().optional(),
    guard: z.enum(GUARD_NAMES).optional().describe('with decision `blocked`'),
    reason: z.string().optional().describe('why, in words, for decisions that did not start a run'),
  }),
);

export const InboxPage = component(
  'InboxPage',
  z.strictObject({
    items: z.array(InboxItem).describe('newest first (by first seen)'),
    nextCursor: z.string().nullable().describe('pass back as `cursor`; only null means the end'),
  }),
);

const SimulatedGuard = component(
  'SimulatedGuard',
  z.strictObject({
    guard: z.union([z.enum(GUARD_NAMES), z.enum(['episode', 'resolved'])]),
    verdict: z.enum(['pass', 'block', 'checked at execution']),
    detail: z.string().optional(),
  }),
);

const SimulatedOutcome = component(
  'SimulatedOutcome',
  z.strictObject({
    rule: z.string(),
    decision: z.enum(['enqueued', 'awaiting_approval', 'duplicate', 'invalid_params', 'blocked', 'ignored_resolved']),
    playbook: z.string().optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    target: z.string().optional(),
    dryRun: z.boolean().optional(),
    approval: z.enum(['none', 'required']).optional(),
    precheck: z.string().optional().describe('the precheck query with the alert\'s labels filled in'),
    verifyQuery: z.string().optional(),
    guard: z.enum(GUARD_NAMES).optional(),
    reason: z.string().optional(),
    runId: z.string().optional().describe('a duplicate: the run the episode already started'),
    guards: z.array(SimulatedGuard),
  }),
);

export const SimulationResult = component(
  'SimulationResult',
  z.strictObject({
    received: z.int().min(0),
    decisions: z.array(
      z.strictObject({
        fingerprint: z.string(),
        alertname: z.string(),
        status: z.enum(['firing', 'resolved', 'invalid']),
        decision: z.enum(['enqueued', 'awaiting_approval', 'duplicate', 'invalid_params', 'blocked', 'ignored_resolved', 'unmatched']),
        rule: z.string().nullable(),
        reason: z.string().optional(),
        rules: z.array(z.strictObject({ rule: z.string(), matched: z.boolean(), failed: z.string().optional().describe('the first matcher that failed, and what the alert had') })),
        outcomes: z.array(SimulatedOutcome),
      }),
    ),
  }),
);

// ---- playbooks --------------------------------------------------------------------------------

export const PlaybookList = component(
  'PlaybookList',
  z.strictObject({
    items: z.array(
      z.strictObject({
        name: z.string(),
        description: z.string(),
        destructive: z.boolean(),
        paramsSchema: z.record(z.string(), z.unknown()).describe("the playbook's params as JSON Schema (draft 2020-12, input side: keys with defaults are optional)"),
      }),
    ),
  }),
);

// ---- runs -------------------------------------------------------------------------------------

export const AlertRef = component(
  'AlertRef',
  z
    .strictObject({
      fingerprint: z.string(),
      alertname: z.string(),
      startsAt: z.string().describe('RFC 3339 as Alertmanager sent it'),
      labels,
      annotations: labels.optional().describe('summary, description, runbook_url… as the alert rule wrote them (absent on older runs)'),
      generatorURL: z.string().optional().describe('the Prometheus graph that fired it'),
    })
    .describe('The alert a run came from: its identity and its own words.'),
);

export const RuleSnapshot = component(
  'RuleSnapshot',
  z
    .strictObject({
      cooldownMs: z.number().optional(),
      maxRunsPerHour: z.number().optional(),
      onResolved: z.enum(['cancel-pending', 'ignore']),
      dryRun: z.boolean(),
      verify: z
        .strictObject({
          withinMs: z.number(),
          intervalMs: z.number(),
          silence: z.boolean(),
          query: z.string().optional().describe("the rule's verify query with the alert's labels filled in"),
        })
        .optional(),
    })
    .describe("The rule's guard settings when the run was created; execution re-checks against these."),
);

export const RunTrigger = component(
  'RunTrigger',
  z.strictObject({
    source: z.enum(RUN_SOURCES).describe('`escalation`: a follow-up run an escalation created (see escalatedFrom)'),
    rule: z.string().optional(),
    ruleConfig: RuleSnapshot.optional().describe('alert runs: the rule as it was at intake'),
    alert: AlertRef.optional(),
    operator: z.string().optional().describe('manual runs: who asked'),
    reason: z.string().optional().describe('manual runs: why (required, audited)'),
    episode: z.string().optional().describe('alert runs: the idempotency key of the alert episode'),
  }),
);

export const RunStep = component(
  'RunStep',
  z
    .strictObject({
      action: z.string().describe('scale, delete_pod, evict, cordon, uncordon, taint, annotate, set_memory_limit, event…'),
      object: z.string().describe('the object acted on, as a target (`deployment/ml-serving/llm-api`)'),
      request: z.strictObject({
        method: z.string(),
        path: z.string(),
        dryRun: z.boolean(),
        body: z.unknown().optional(),
      }),
      result: z.enum(['pending', 'ok', 'error', 'dry_run', 'gone', 'blocked']).describe('`pending`: the intent, written before the request was sent'),
      detail: z.string().optional(),
      before: z.unknown().optional(),
      after: z.unknown().optional(),
      at: instant,
      key: z.string().optional().describe('identifies the change; a later attempt resumes the latest step with its key'),
      intent: z.unknown().optional().describe('what the object must look like once the change is applied'),
      attempt: z.number().optional().describe("the run's attempt that sent it"),
      uncertain: z.boolean().optional().describe('an error after which the server may still have applied the request (5xx, no answer)'),
    })
    .describe('One Kubernetes request the run made, or would make when dry.'),
);

export const RunApproval = component(
  'RunApproval',
  z.strictObject({
    requiredBy: z.enum(['rule', 'manualApproval', 'escalation']),
    decision: z.enum(['approved', 'rejected', 'expired']).optional(),
    by: z.string().optional(),
    reason: z.string().optional(),
    at: instant.optional(),
  }),
);

export const RunPrecheck = component(
  'RunPrecheck',
  z
    .strictObject({
      query: z.string().describe('the PromQL as sent, labels filled in'),
      result: z.enum(['pass', 'fail', 'error']).optional().describe('absent until evaluated; pass = a non-empty result'),
      detail: z.string().optional(),
      at: instant.optional(),
    })
    .describe('The precheck, evaluated right before the first mutation; fail and error skip the run.'),
);

export const RunHealth = component(
  'RunHealth',
  z
    .strictObject({
      result: z.enum(['healthy', 'unhealthy']),
      detail: z.string(),
      at: instant,
    })
    .describe("The built-in health check's verdict (never for dry runs)."),
);

export const RunVerification = component(
  'RunVerification',
  z
    .strictObject({
      result: z.enum(['pending', 'resolved', 'not_resolved', 'error']),
      detail: z.string(),
      at: instant,
      deadline: instant.describe("the run's end plus verify.within"),
      query: z.string().optional(),
      checks: z.number(),
      silenceId: z.string().optional().describe('the Alertmanager silence held while verifying'),
    })
    .describe('Whether the problem went away after the run.'),
);

export const Run = component(
  'Run',
  z
    .strictObject({
      id: z.string(),
      status: z.enum(RUN_STATUSES),
      changed: z.boolean(),
      dryRun: z.boolean(),
      reason: z.string().optional().describe('why it ended as it did (every finished run has one)'),
      playbook: z.string(),
      params: z.record(z.string(), z.unknown()),
      target: z.string().describe('node/NAME, deployment/NAMESPACE/NAME, statefulset/NAMESPACE/NAME or pod/NAMESPACE/NAME'),
      trigger: RunTrigger,
      guard: z.strictObject({ guard: z.enum(GUARD_NAMES), detail: z.string() }).optional().describe('with status blocked'),
      approval: RunApproval.optional(),
      bypassGuards: z.boolean().optional().describe('admin override: cooldowns, rate limits and the node budget did not apply'),
      cancelRequested: z.strictObject({ by: z.string(), reason: z.string(), at: instant }).optional().describe('a running run asked to stop'),
      steps: z.array(RunStep),
      precheck: RunPrecheck.optional(),
      health: RunHealth.optional(),
      verification: RunVerification.optional(),
      escalatedFrom: z.string().optional().describe('a follow-up run: the run whose escalation created it'),
      escalations: z.array(z.string()).optional().describe('follow-up runs its escalations created, oldest first'),
      seen: z.int().min(1).optional().describe('alert runs, GET /api/v1/runs/{id} only: notifications of its episode received, repeats included (counted in batches)'),
      lastSeenAt: instant.optional().describe('alert runs, GET /api/v1/runs/{id} only: when the last of them arrived'),
      attempts: z.int().min(0),
      createdAt: instant,
      queuedAt: instant.optional().describe('approved runs: guards.maxQueueAge counts from here'),
      startedAt: instant.optional(),
      finishedAt: instant.optional(),
    })
    .describe('A run: one execution of a playbook on one target, from an alert, an operator or an escalation.'),
);

export const RunPage = component(
  'RunPage',
  z.strictObject({
    items: z.array(Run).describe('newest first'),
    nextCursor: z.string().nullable().describe('pass back as `cursor`; null at the end'),
  }),
);

export const RunRequest = component(
  'RunRequest',
  z
    .strictObject({
      playbook: z.string().describe('a name from GET /api/v1/playbooks'),
      params: z.record(z.string(), z.unknown()).optional().describe("checked against the playbook's paramsSchema (GET /api/v1/playbooks); default {}"),
      reason: z.string().min(1).describe('required and audited'),
      dryRun: z.boolean().optional().describe('cannot override a global dryRun: true'),
      bypassGuards: z.boolean().optional().describe('admin only: pass cooldowns, rate limits and the node budget (audited)'),
      precheck: z.string().min(1).optional().describe('PromQL that must return a result right before the first mutation; no {{ labels.NAME }} placeholders; needs prometheus configured'),
    })
    .describe('A manual run. Unknown keys are ignored by this version; do not send them.'),
);

export const RunAccepted = component(
  'RunAccepted',
  z.strictObject({
    id: z.string(),
    status: z.enum(RUN_STATUSES).describe('queued, or awaiting_approval under guards.manualApproval'),
  }),
);

export const Reason = component(
  'Reason',
  z.strictObject({ reason: z.string().min(1).describe('required and audited with your name') }).describe('Unknown keys are ignored by this version; do not send them.'),
);

export const RunDecision = component(
  'RunDecision',
  z
    .strictObject({
      id: z.string(),
      status: z.enum(RUN_STATUSES).describe('approve: queued; reject: rejected; cancel: cancelled, or running while a running run winds down'),
    })
    .describe('The run and its status after the decision.'),
);

export const AckResult = component(
  'AckResult',
  z.strictObject({
    id: z.string().describe('the run whose escalation held the target (the origin, also when acked through its follow-up)'),
    target: z.string(),
    rule: z.string(),
    released: z.literal(true),
  }),
);

// ---- pause, status ----------------------------------------------------------------------------

export const PauseRequest = component(
  'PauseRequest',
  z
    .strictObject({
      reason: z.string().min(1).describe('required and audited'),
      playbook: z.string().optional().describe('only this playbook; default: global'),
    })
    .describe('Unknown keys are ignored by this version; do not send them.'),
);

export const PauseResult = component(
  'PauseResult',
  z.strictObject({ paused: z.array(z.string()).describe('every paused scope afterwards: `global` and/or playbook names') }),
);

const pauseEntry = z.strictObject({ reason: z.string(), by: z.string(), at: instant });

export const ServiceStatus = component(
  'ServiceStatus',
  z.strictObject({
    version: z.string(),
    role: z.enum(['all', 'api', 'worker']),
    dryRun: z.boolean().describe('the global dryRun setting'),
    paused: z.record(z.string(), pauseEntry).describe('by scope (`global` or a playbook name): who paused it, why and when'),
    caller: z
      .strictObject({ name: z.string(), role: z.enum(['viewer', 'operator', 'admin', 'alertmanager']) })
      .describe("the token's name and role: what the review page offers depends on it"),
  }),
);

// ---- audit ------------------------------------------------------------------------------------

/** Fields every audit entry has or may have (src/audit/audit-entry.ts AuditBase). */
const auditBase = {
  at: instant.describe('when the decision was made'),
  actor: z.string().describe("'alertmanager', 'system', 'worker', 'anonymous' (failed auth) or an operator's name"),
  runId: z.string().optional(),
  target: z.string().optional(),
  playbook: z.string().optional(),
  rule: z.string().optional(),
};

export const RunCreatedEntry = component(
  'RunCreatedEntry',
  z.looseObject({
    type: z.literal('run_created'),
    ...auditBase,
    source: z.enum(RUN_SOURCES),
    fingerprint: z.string().optional(),
    alertname: z.string().optional(),
    episode: z.string().optional(),
    params: z.record(z.string(), z.unknown()),
    dryRun: z.boolean(),
    status: z.enum(RUN_STATUSES),
  }),
);

export const GuardBlockedEntry = component(
  'GuardBlockedEntry',
  z.looseObject({
    type: z.literal('guard_blocked'),
    ...auditBase,
    guard: z.enum(GUARD_NAMES),
    detail: z.string(),
    episode: z.string().optional(),
    fingerprint: z.string().optional(),
  }),
);

export const RunStatusEntry = component(
  'RunStatusEntry',
  z.looseObject({
    type: z.literal('run_status'),
    ...auditBase,
    from: z.enum(RUN_STATUSES).optional(),
    to: z.enum(RUN_STATUSES),
    reason: z.string().optional(),
    changed: z.boolean().optional(),
    dryRun: z.boolean().optional(),
    guard: z.enum(GUARD_NAMES).optional(),
  }),
);

export const KubeMutationEntry = component(
  'KubeMutationEntry',
  z.looseObject({
    type: z.literal('kube_mutation'),
    ...auditBase,
    action: z.string(),
    object: z.string(),
    method: z.string(),
    path: z.string(),
    dryRun: z.boolean(),
    result: z.enum(['ok', 'error', 'dry_run', 'gone', 'blocked']),
    detail: z.string().optional(),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
  }),
);

export const OperatorActionEntry = component(
  'OperatorActionEntry',
  z.looseObject({
    type: z.literal('operator_action'),
    ...auditBase,
    action: z.enum(OPERATOR_ACTIONS),
    reason: z.string(),
    scope: z.string().optional().describe("pause/resume: 'global' or a playbook name"),
  }),
);

export const AuthFailedEntry = component(
  'AuthFailedEntry',
  z.looseObject({
    type: z.literal('auth_failed'),
    ...auditBase,
    client: z.string().describe('client address, or `(other addresses)`'),
    count: z.int().min(1).describe('failures from this client since its previous entry'),
    reason: z.string(),
  }),
);

export const AlertResolvedEntry = component(
  'AlertResolvedEntry',
  z.looseObject({
    type: z.literal('alert_resolved'),
    ...auditBase,
    fingerprint: z.string(),
    cancelled: z.array(z.string()).optional().describe('runs cancelled because their alert resolved before they acted'),
  }),
);

export const AlertDecisionEntry = component(
  'AlertDecisionEntry',
  z.looseObject({
    type: z.literal('alert_decision'),
    ...auditBase,
    decision: z.enum(['unmatched', 'invalid_params']),
    fingerprint: z.string().describe('empty when the alert had none'),
    alertname: z.string(),
    episode: z.string().describe('the episode key; its rule is `none` for an unmatched or malformed alert'),
    reason: z.string().optional(),
  }),
);

export const AuditTrimmedEntry = component(
  'AuditTrimmedEntry',
  z.looseObject({
    type: z.literal('audit_trimmed'),
    ...auditBase,
    count: z.int().min(0),
    anchorId: z.string().describe('the last removed entry: the new retention anchor'),
    reason: z.enum(['maxAge', 'maxEntries']),
    lengthBefore: z.int().min(0).optional(),
  }),
);

export const HealthCheckEntry = component(
  'HealthCheckEntry',
  z.looseObject({
    type: z.literal('health_check'),
    ...auditBase,
    result: z.enum(['healthy', 'unhealthy']),
    detail: z.string(),
  }),
);

export const PrecheckEntry = component(
  'PrecheckEntry',
  z.looseObject({
    type: z.literal('precheck'),
    ...auditBase,
    query: z.string(),
    result: z.enum(['pass', 'fail', 'error']),
    detail: z.string(),
  }),
);

export const VerificationEntry = component(
  'VerificationEntry',
  z.looseObject({
    type: z.literal('verification'),
    ...auditBase,
    result: z.enum(['scheduled', 'resolved', 'not_resolved', 'error']),
    detail: z.string(),
    query: z.string().optional(),
    silenceId: z.string().optional(),
  }),
);

export const EscalationEntry = component(
  'EscalationEntry',
  z.looseObject({
    type: z.literal('escalation'),
    ...auditBase,
    reason: z.enum(['verify_failed', 'verify_error', 'repeats']),
    detail: z.string(),
    notify: z.array(z.string()).optional(),
    followUpRunId: z.string().optional(),
    held: z.boolean(),
  }),
);

export const NotificationDeadLetterEntry = component(
  'NotificationDeadLetterEntry',
  z.looseObject({
    type: z.literal('notification_dead_letter'),
    ...auditBase,
    channel: z.string(),
    event: z.string(),
    attempts: z.int().min(1),
    error: z.string().describe('the last failure (no URL, no secret)'),
  }),
);

export const UnreadableEntry = component(
  'UnreadableEntry',
  z
    .looseObject({
      type: z.literal('unreadable'),
      at: instant,
      actor: z.string(),
      raw: z.string(),
    })
    .describe('A stream entry that is not an audit entry object (written by hand, or damaged).'),
);

/** Every entry schema, by its `type` (AUDIT_ENTRY_TYPES plus `unreadable`). */
export const AUDIT_ENTRY_SCHEMAS = {
  run_created: RunCreatedEntry,
  guard_blocked: GuardBlockedEntry,
  run_status: RunStatusEntry,
  kube_mutation: KubeMutationEntry,
  operator_action: OperatorActionEntry,
  auth_failed: AuthFailedEntry,
  alert_resolved: AlertResolvedEntry,
  alert_decision: AlertDecisionEntry,
  audit_trimmed: AuditTrimmedEntry,
  health_check: HealthCheckEntry,
  precheck: PrecheckEntry,
  verification: VerificationEntry,
  escalation: EscalationEntry,
  notification_dead_letter: NotificationDeadLetterEntry,
} as const;

export const AuditEntry = component(
  'AuditEntry',
  z
    .discriminatedUnion('type', [
      RunCreatedEntry,
      GuardBlockedEntry,
      RunStatusEntry,
      KubeMutationEntry,
      OperatorActionEntry,
      AuthFailedEntry,
      AlertResolvedEntry,
      AlertDecisionEntry,
      AuditTrimmedEntry,
      HealthCheckEntry,
      PrecheckEntry,
      VerificationEntry,
      EscalationEntry,
      NotificationDeadLetterEntry,
      UnreadableEntry,
    ])
    .describe('One audit entry, by `type`. Readers must accept fields they do not know.'),
);

export const AuditItem = component(
  'AuditItem',
  z
    .intersection(
      AuditEntry,
      z.looseObject({
        id: z.string().describe('the Redis stream id (`1714567890123-0`): order and `after=` position'),
        sealed: z.boolean().describe('whether the sealer has chained it yet'),
      }),
    )
    .describe('An audit entry with its stream id and seal state. In an NDJSON export, one per line.'),
);

export const AuditPage = component(
  'AuditPage',
  z.strictObject({
    items: z.array(AuditItem).describe('newest first'),
    nextCursor: z.string().nullable().describe('pass back as `cursor`; only null means the end (a page may be short and still have one)'),
  }),
);

export const AuditChainReport = component(
  'AuditChainReport',
  z.strictObject({
    ok: z.boolean(),
    checked: z.int().min(0).describe('sealed entries recomputed and matched'),
    unsealed: z.int().min(0).describe('entries after the sealed head: not yet chained, not evidence of anything'),
    firstBad: z.strictObject({ id: z.string(), reason: z.string() }).optional(),
    range: z.strictObject({ from: z.string(), to: z.string() }).optional().describe('the first and last entry whose seals this verify recomputed'),
    unchangedThrough: z
      .strictObject({ id: z.string(), entries: z.int().min(0) })
      .optional()
      .describe('entries through this id were confirmed unchanged against the key-attested checkpoint of an earlier verify'),
  }),
);

// ---- health -----------------------------------------------------------------------------------

export const Healthz = component('Healthz', z.strictObject({ ok: z.literal(true) }));

export const Readiness = component(
  'Readiness',
  z.strictObject({
    ok: z.boolean(),
    checks: z.record(z.string(), z.string()).describe('`redis` (every process) and `kubernetes` (processes that run playbooks): `ok`, a version, or what failed'),
  }),
);

/** The component schemas as JSON Schema (draft 2020-12), `$ref`s pointing into components/schemas. */
export function componentSchemas(): Record<string, Record<string, unknown>> {
  const { schemas } = z.toJSONSchema(apiSchemas, { target: 'draft-2020-12', io: 'output', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, Record<string, unknown>> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    // Each component carries its own $schema and a fragment-only $id; the document's
    // jsonSchemaDialect covers the first, and the second is not a valid $id in 2020-12.
    const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
    out[id] = rest;
  }
  return out;
}
