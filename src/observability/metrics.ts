import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { GUARD_NAMES } from '../domain/errors.js';
import { RUN_SOURCES, TERMINAL_STATUSES } from '../domain/run.js';

export const DECISIONS = [
  'enqueued',
  'awaiting_approval',
  'duplicate',
  'unmatched',
  'invalid_params',
  'blocked',
  'cancelled',
  'ignored_resolved',
] as const;
export type Decision = (typeof DECISIONS)[number];

export const ACTIONS = ['scale', 'delete_pod', 'evict', 'cordon', 'uncordon', 'taint', 'annotate', 'set_memory_limit'] as const;
export const ACTION_RESULTS = ['ok', 'error', 'dry_run'] as const;
/** The Kubernetes requests the playbooks make, pre-initialised with their success code. */
const KUBE_REQUESTS: [verb: string, resource: string, code: string][] = [
  ['get', 'version', '200'],
  ['get', 'pods', '200'],
  ['list', 'pods', '200'],
  ['delete', 'pods', '200'],
  ['create', 'pods/eviction', '201'],
  ['get', 'nodes', '200'],
  ['list', 'nodes', '200'],
  ['patch', 'nodes', '200'],
  ['get', 'namespaces', '200'],
  ['get', 'deployments', '200'],
  ['get', 'statefulsets', '200'],
  ['get', 'replicasets', '200'],
  ['get', 'daemonsets', '200'],
  ['patch', 'deployments', '200'],
  ['patch', 'statefulsets', '200'],
  ['get', 'deployments/scale', '200'],
  ['patch', 'deployments/scale', '200'],
  ['get', 'statefulsets/scale', '200'],
  ['patch', 'statefulsets/scale', '200'],
  ['list', 'horizontalpodautoscalers', '200'],
  ['create', 'events', '201'],
];

export const PRECHECK_RESULTS = ['pass', 'fail', 'error'] as const;
export const VERIFICATION_RESULTS = ['resolved', 'not_resolved', 'error'] as const;

export const ESCALATION_REASONS = ['verify_failed', 'repeats'] as const;
export const NOTIFICATION_RESULTS = ['ok', 'error', 'dead_letter'] as const;

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'awaiting_approval', 'failed'] as const;

/** docs/metrics.md: every series from a closed set of label values, pre-initialised at 0. */
export class Metrics {
  readonly registry = new Registry();
  readonly alertsReceived: Counter<'status'>;
  readonly alertsTruncated: Counter;
  readonly notificationReplays: Counter;
  readonly replicaAckFailures: Counter;
  readonly alertDecisions: Counter<'rule' | 'decision'>;
  readonly guardBlocks: Counter<'guard'>;
  readonly runs: Counter<'playbook' | 'source' | 'status'>;
  readonly runDuration: Histogram<'playbook' | 'status'>;
  readonly actions: Counter<'playbook' | 'action' | 'result'>;
  readonly kubeRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly queueJobs: Gauge<'state'>;
  readonly paused: Gauge<'scope'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'code'>;
  readonly buildInfo: Gauge<'version'>;
  readonly auditUnsealed: Gauge;
  readonly prechecks: Counter<'playbook' | 'result'>;
  readonly verifications: Counter<'playbook' | 'result'>;
  readonly escalations: Counter<'rule' | 'reason'>;
  readonly notifications: Counter<'channel' | 'result'>;

  constructor(opts: { version: string; playbooks: readonly string[]; rules: readonly string[]; channels?: readonly string[]; defaultMetrics?: boolean }) {
    const registers = [this.registry];
    this.alertsReceived = new Counter({ name: 'remediator_alerts_received_total', help: 'Alerts received from Alertmanager, by alert status.', labelNames: ['status'], registers });
    this.replicaAckFailures = new Counter({
      name: 'remediator_redis_replica_ack_failures_total',
      help: 'Webhook requests answered 503 because fewer replicas than redis.minReplicasAcked confirmed the decisions (WAIT).',
      registers,
    });
    this.alertsTruncated = new Counter({ name: 'remediator_alerts_truncated_total', help: 'Alerts Alertmanager dropped from notifications (sum of truncatedAlerts).', registers });
    this.notificationReplays = new Counter({ name: 'remediator_notification_replays_total', help: 'Byte-identical replays of notifications with final decisions, answered from memory.', registers });
    this.alertDecisions = new Counter({ name: 'remediator_alert_decisions_total', help: 'Decisions taken per alert and rule.', labelNames: ['rule', 'decision'], registers });
    this.guardBlocks = new Counter({ name: 'remediator_guard_blocks_total', help: 'Runs blocked by a guard (once per episode and guard).', labelNames: ['guard'], registers });
    this.runs = new Counter({ name: 'remediator_runs_total', help: 'Runs that reached a terminal status.', labelNames: ['playbook', 'source', 'status'], registers });
    this.runDuration = new Histogram({ name: 'remediator_run_duration_seconds', help: 'Run duration from start to terminal status.', labelNames: ['playbook', 'status'], buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800], registers });
    this.actions = new Counter({ name: 'remediator_actions_total', help: 'Objects acted on, by final result.', labelNames: ['playbook', 'action', 'result'], registers });
    this.kubeRequests = new Counter({ name: 'remediator_kube_requests_total', help: 'Kubernetes API requests, retries included.', labelNames: ['verb', 'resource', 'code'], registers });
    this.queueJobs = new Gauge({ name: 'remediator_queue_jobs', help: 'Jobs in the queue by state (cluster-wide).', labelNames: ['state'], registers });
    this.paused = new Gauge({ name: 'remediator_paused', help: '1 while automation is paused, per scope.', labelNames: ['scope'], registers });
    this.httpDuration = new Histogram({ name: 'remediator_http_request_duration_seconds', help: 'HTTP request duration.', labelNames: ['route', 'method', 'code'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
    this.buildInfo = new Gauge({ name: 'remediator_build_info', help: 'Build information.', labelNames: ['version'], registers });
    this.buildInfo.set({ version: opts.version }, 1);
    this.auditUnsealed = new Gauge({ name: 'remediator_audit_unsealed_entries', help: 'Audit entries waiting for the sealer (cluster-wide).', registers });
    this.auditUnsealed.set(0);
    this.prechecks = new Counter({ name: 'remediator_prechecks_total', help: 'Prechecks evaluated before the first mutation (pass = non-empty result; fail and error skip the run).', labelNames: ['playbook', 'result'], registers });
    this.verifications = new Counter({ name: 'remediator_verifications_total', help: 'Verifications ended after a run, by outcome.', labelNames: ['playbook', 'result'], registers });
    this.escalations = new Counter({ name: 'remediator_escalations_total', help: 'Escalations: a verification that did not resolve the problem, or a rule repeating on one target.', labelNames: ['rule', 'reason'], registers });
    this.notifications = new Counter({ name: 'remediator_notifications_total', help: 'Notification deliveries per channel: ok, error (an attempt failed, will retry), dead_letter (gave up).', labelNames: ['channel', 'result'], registers });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    for (const status of ['firing', 'resolved']) this.alertsReceived.inc({ status }, 0);
    this.alertsTruncated.inc(0);
    this.notificationReplays.inc(0);
    this.replicaAckFailures.inc(0);
    for (const rule of [...opts.rules, 'none']) for (const decision of DECISIONS) this.alertDecisions.inc({ rule, decision }, 0);
    for (const guard of GUARD_NAMES) this.guardBlocks.inc({ guard }, 0);
    for (const playbook of opts.playbooks) {
      for (const status of TERMINAL_STATUSES) {
        for (const source of RUN_SOURCES) this.runs.inc({ playbook, source, status }, 0);
        this.runDuration.zero({ playbook, status });
      }
      for (const action of ACTIONS) for (const result of ACTION_RESULTS) this.actions.inc({ playbook, action, result }, 0);
      for (const result of PRECHECK_RESULTS) this.prechecks.inc({ playbook, result }, 0);
      for (const result of VERIFICATION_RESULTS) this.verifications.inc({ playbook, result }, 0);
    }
    for (const rule of opts.rules) for (const reason of ESCALATION_REASONS) this.escalations.inc({ rule, reason }, 0);
    for (const channel of opts.channels ?? []) for (const result of NOTIFICATION_RESULTS) this.notifications.inc({ channel, result }, 0);
    for (const [verb, resource, code] of KUBE_REQUESTS) this.kubeRequests.inc({ verb, resource, code }, 0);
    for (const [route, method] of [['/api/v1/alerts', 'POST'], ['/metrics', 'GET'], ['/healthz', 'GET'], ['/readyz', 'GET']] as const) {
      this.httpDuration.zero({ route, method, code: '200' });
    }
    for (const state of QUEUE_STATES) this.queueJobs.set({ state }, 0);
    this.paused.set({ scope: 'global' }, 0);
    for (const playbook of opts.playbooks) this.paused.set({ scope: playbook }, 0);
  }

  observeKubeRequest = (verb: string, resource: string, code: number): void => {
    this.kubeRequests.inc({ verb, resource, code: String(code) });
  };
}
