import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Alert, AlertRef } from '../domain/alert.js';
import type { Run } from '../domain/run.js';
import type { GuardName } from '../domain/errors.js';
import type { ReplicaFence } from '../redis/replica-fence.js';
import type { Metrics, Decision } from '../observability/metrics.js';
import type { AnyPlaybook } from './playbook.js';
import type { EngineGuards, EngineRule } from './engine-rule.js';
import type { RedisKeys } from './redis-keys.js';
import { namespaceBlock } from './namespace-guard.js';
import { EPISODES_SCRIPT, INBOX_SEEN_SCRIPT, INTAKE_SCRIPT } from './intake-script.js';
import { planAlertRun } from './alert-run-plan.js';
import { callWithDeclaredKeys, KeyHints } from '../redis/declared-keys.js';
import type { Replay, ReplayCache } from './replay-cache.js';
import type { NotificationRequest, NotificationSink } from './notification-sink.js';

/** A notification already decoded at the HTTP edge. */
export interface IntakeNotification {
  truncatedAlerts: number;
  alerts: ({ ok: true; alert: Alert } | { ok: false; index: number; fingerprint?: string; message: string })[];
}

/** How many recent episode keys the duplicate hint keeps (about 5 MB). */
const SEEN_EPISODES = 50_000;

export interface AlertDecision {
  fingerprint: string;
  status: 'firing' | 'resolved' | 'invalid';
  rule: string | null;
  decision: Decision;
  runId?: string;
  guard?: GuardName;
  reason?: string;
}

export interface IntakeResult {
  received: number;
  decisions: AlertDecision[];
}

export interface RunEnqueuer {
  enqueue(runs: { runId: string; playbook: string }[]): Promise<void>;
}

interface Candidate {
  fingerprint: string;
  status: 'firing' | 'resolved';
  rule: string;
  playbook: string;
  target: string;
  episode: string;
  runId: string;
  onResolved: EngineRule['onResolved'];
  /** Seconds the run record lives (`runs.retention`). */
  runTtl: number;
  cooldownMs?: number;
  maxRunsPerHour?: number;
  blockedGuard?: GuardName;
  blockedDetail?: string;
  initialStatus: 'queued' | 'awaiting_approval';
  /** The run record and its audit entry; empty for resolved alerts, which never create one. */
  doc: string;
  created?: object;
  /** The rule's `notify` channels. */
  notify?: readonly string[];
}

/** One inbox item for the intake script: the alert's fields and its decision, or the candidate that decides it. */
interface InboxItem {
  episode: string;
  fingerprint: string;
  alertname: string;
  /** JSON */
  labels: string;
  /** JSON */
  annotations: string;
  generatorURL: string;
  status: 'firing' | 'resolved' | 'invalid';
  startsAt: string;
  rule: string;
  decision?: Decision;
  reason?: string;
  /** 1-based candidate index. */
  cand?: number;
}

/**
 * What a replay of this notification gets, when every alert is firing, matched, and started or
 * joined a run (a blocked episode must be evaluated again, DESIGN §1; a resolved one may cancel).
 */
function replayOf(
  notification: IntakeNotification,
  pairs: readonly { alert: Alert; rule: EngineRule; episode: string }[],
  pairDecisions: readonly AlertDecision[],
  result: IntakeResult,
): Replay | undefined {
  if (notification.truncatedAlerts > 0 || pairs.length === 0) return undefined;
  if (!notification.alerts.every((a) => a.ok && a.alert.status === 'firing')) return undefined;
  if (!pairDecisions.every((d) => d !== undefined && FINAL.has(d.decision) && d.runId !== undefined)) return undefined;
  if (!result.decisions.every((d) => FINAL.has(d.decision))) return undefined;
  const rules = new Map<string, number>();
  for (const p of pairs) rules.set(p.rule.name, (rules.get(p.rule.name) ?? 0) + 1);
  const answer = Buffer.from(
    JSON.stringify({
      received: result.received,
      decisions: result.decisions.map((d) => ({ fingerprint: d.fingerprint, status: d.status, rule: d.rule, decision: 'duplicate', runId: d.runId })),
    }),
  );
  return { answer, episodes: pairs.map((p) => p.episode), runIds: pairDecisions.map((d) => d.runId!), rules, firing: notification.alerts.length };
}

/** Flush the batched inbox `seen` counters at most this often. */
const INBOX_FLUSH_MS = 1000;
const UNMATCHED_REASON = 'no rule matches the alert\'s labels';

function inboxItem(alert: Alert, rule: string, episode: string): InboxItem {
  return {
    episode,
    fingerprint: alert.fingerprint,
    alertname: alert.labels.alertname ?? '',
    labels: JSON.stringify(alert.labels),
    annotations: JSON.stringify(alert.annotations ?? {}),
    generatorURL: alert.generatorURL ?? '',
    status: alert.status,
    startsAt: alert.startsAt,
    rule,
  };
}

interface ScriptResult {
  decision: Decision;
  runId?: string;
  guard?: GuardName;
  detail?: string;
  first?: number;
  requeue?: number;
}

export interface AlertIntakeDeps {
  redis: Redis;
  keys: RedisKeys;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  matchRules: (labels: Record<string, string>) => EngineRule[];
  episodeKey: (rule: string, fingerprint: string, startsAt: string) => string;
  guards: Pick<EngineGuards, 'namespaces'>;
  globalDryRun: boolean;
  /** `runs.retention`: how long run records live. */
  runRetentionMs: number;
  enqueuer: RunEnqueuer;
  metrics: Metrics;
  audit: { logWritten(entries: object[]): void };
  /** Rules' `notify` channels hear of runs awaiting approval and of first blocks. */
  notifications?: NotificationSink;
  now?: () => Date;
  /**
   * The alert inbox (default true). `false` is a benchmark baseline only (bench/run.ts, suite
   * `inbox`), not a configuration key: the intake then builds no inbox items, counts no repeats and
   * hands the script an empty inbox, as before the inbox existed (so no `alert_decision` audit
   * entries either: they belong to a record's first write).
   */
  inbox?: boolean;
  /**
   * `redis.minReplicasAcked`: before answering (and before the runs are handed to the queue or
   * anyone is notified), replicas must hold the decisions; ReplicaAckError otherwise.
   */
  replicas?: Pick<ReplicaFence, 'require'>;
  /** Byte-identical replays of notifications whose decisions are final, answered from memory. */
  replays?: ReplayCache;
}

/** Decisions that start or join a run: a replay of them is a duplicate while the episode names that run. */
const FINAL: ReadonlySet<Decision> = new Set<Decision>(['enqueued', 'awaiting_approval', 'duplicate']);

/**
 * Turns a notification into per-alert decisions: rules and params are resolved in memory, then
 * one Lua script decides and records everything atomically, then new runs are handed to the queue.
 */
export class AlertIntake {
  private readonly now: () => Date;
  /** Episodes this process has seen recently (a hint only: Redis decides). */
  private readonly seen = new Set<string>();
  /**
   * Episodes whose run this process recorded and handed to the queue (or left awaiting approval):
   * a repeat needs no look at whether its job exists. A crash between recording and enqueueing
   * leaves the episode out, so the retry looks (and the sweeper catches the rest).
   */
  private readonly enqueued = new Set<string>();
  /**
   * Unmatched and invalid episodes whose inbox record this process saw the script write: their
   * repeats are only counted. Apart from `seen`, which is noted before the script runs, so a
   * notification whose script failed (Redis down) still gets its record when it is retried.
   */
  private readonly recorded = new Set<string>();
  /** Inbox records seen again since the last flush: episode -> times and last seen (ISO). */
  private pendingSeen = new Map<string, { n: number; last: string }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly inboxOn: boolean;
  /** Keys the scripts asked for before (src/redis/declared-keys.ts). */
  private readonly keyHints = new KeyHints();
  constructor(private readonly deps: AlertIntakeDeps) {
    this.now = deps.now ?? (() => new Date());
    this.inboxOn = deps.inbox !== false;
    // No fixed numberOfKeys: each call declares its own keys (src/redis/declared-keys-lua.ts).
    deps.redis.defineCommand('remediatorIntake', { lua: INTAKE_SCRIPT });
    deps.redis.defineCommand('remediatorEpisodes', { lua: EPISODES_SCRIPT });
    deps.redis.defineCommand('remediatorInboxSeen', { lua: INBOX_SEEN_SCRIPT });
  }

  /** Counts a repeat of an inbox record in memory; written by `flushSeen` within a second. */
  private countSeen(episode: string, at: string): void {
    if (!this.inboxOn) return;
    const p = this.pendingSeen.get(episode);
    if (p) {
      p.n += 1;
      if (p.last < at) p.last = at;
    } else this.pendingSeen.set(episode, { n: 1, last: at });
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flushSeen().catch(() => undefined);
    }, INBOX_FLUSH_MS).unref();
  }

  /** Writes the batched `seen` counters: one pipeline (records gone meanwhile stay gone). */
  async flushSeen(): Promise<void> {
    await this.flushing;
    if (this.pendingSeen.size === 0) return;
    const batch = this.pendingSeen;
    this.pendingSeen = new Map();
    const redis = this.deps.redis;
    const pipeline = redis.pipeline() as ReturnType<Redis['pipeline']> & { remediatorInboxSeen(...args: string[]): unknown };
    let args: string[] = [];
    let records: string[] = [];
    const send = () => pipeline.remediatorInboxSeen(String(records.length), ...records, this.deps.keys.tag, ...args);
    for (const [episode, { n, last }] of batch) {
      args.push(episode, String(n), last);
      records.push(this.deps.keys.inboxRecord(episode));
      if (records.length >= 1000) {
        send();
        args = [];
        records = [];
      }
    }
    if (records.length > 0) send();
    this.flushing = pipeline.exec().then(() => undefined, () => undefined);
    await this.flushing;
  }

  /** On shutdown: no timer left, the counters written. */
  async stop(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushSeen();
  }

  /**
   * The answer to a byte-identical replay of a notification answered before (`digest` of its raw
   * body), when every alert joined a run and Redis still names those runs; undefined otherwise (the
   * caller takes the full path). Counted as the full path would count duplicates.
   */
  async replay(digest: string): Promise<Buffer | undefined> {
    const entry = await this.deps.replays?.confirmed(digest);
    if (!entry) return undefined;
    const { metrics } = this.deps;
    metrics.notificationReplays.inc();
    metrics.alertsReceived.inc({ status: 'firing' }, entry.firing);
    for (const [rule, n] of entry.rules) metrics.alertDecisions.inc({ rule, decision: 'duplicate' }, n);
    const nowIso = this.now().toISOString();
    for (const episode of entry.episodes) this.countSeen(episode, nowIso);
    return entry.answer;
  }

  /** Whether `digest` may be a replay (a hint: `replay` confirms). */
  mayReplay(digest: string): boolean {
    return this.deps.replays?.peek(digest) !== undefined;
  }

  /** `digest`: of the raw body, to answer its byte-identical replays from memory when every decision is final. */
  async receive(notification: IntakeNotification, digest?: string): Promise<IntakeResult> {
    const { metrics } = this.deps;
    const now = this.now();
    const decisions: (AlertDecision | undefined)[] = [];
    // Counted per notification and flushed once: a label lookup per alert is measurable here.
    const decided = new Map<string, number>();
    const count = (rule: string, decision: Decision) => {
      const key = `${rule}\u0000${decision}`;
      decided.set(key, (decided.get(key) ?? 0) + 1);
    };
    let firingCount = 0;
    let resolvedCount = 0;
    // Every (alert, matching rule) pair, in alert and rule order.
    const pairs: { index: number; alert: Alert; rule: EngineRule; episode: string }[] = [];

    const nowIso = now.toISOString();
    // The inbox: items the script writes (new records) and, for episodes this process recorded
    // already, a repeat counted in memory.
    const inbox: InboxItem[] = [];
    const fixedInbox = (item: InboxItem) => {
      if (this.recorded.has(item.episode)) this.countSeen(item.episode, nowIso);
      else inbox.push(item);
    };
    metrics.alertsTruncated.inc(notification.truncatedAlerts);
    notification.alerts.forEach((parsed, i) => {
      if (!parsed.ok) {
        decisions[i] = { fingerprint: parsed.fingerprint ?? '', status: 'invalid', rule: null, decision: 'invalid_params', reason: parsed.message };
        count('none', 'invalid_params');
        const fp = parsed.fingerprint ?? '';
        if (this.inboxOn) fixedInbox({
          episode: this.deps.episodeKey('none', fp, ''), fingerprint: fp, alertname: '', labels: '{}', annotations: '{}', generatorURL: '',
          status: 'invalid', startsAt: '', rule: 'none', decision: 'invalid_params', reason: parsed.message,
        });
        return;
      }
      const alert = parsed.alert;
      if (alert.status === 'firing') firingCount += 1;
      else resolvedCount += 1;
      const rules = this.deps.matchRules(alert.labels);
      if (rules.length === 0) {
        decisions[i] = { fingerprint: alert.fingerprint, status: alert.status, rule: null, decision: 'unmatched' };
        count('none', 'unmatched');
        if (this.inboxOn) fixedInbox({ ...inboxItem(alert, 'none', this.deps.episodeKey('none', alert.fingerprint, alert.startsAt)), decision: 'unmatched', reason: UNMATCHED_REASON });
        return;
      }
      for (const rule of rules) pairs.push({ index: i, alert, rule, episode: this.deps.episodeKey(rule.name, alert.fingerprint, alert.startsAt) });
    });

    if (firingCount > 0) metrics.alertsReceived.inc({ status: 'firing' }, firingCount);
    if (resolvedCount > 0) metrics.alertsReceived.inc({ status: 'resolved' }, resolvedCount);

    // Duplicates are the common case (retries, repeats, group changes): a lean first look at the
    // episode keys answers them without building run records.
    // A notification none of whose episodes this process has seen is most likely new: it goes
    // straight to the full script, which decides duplicates just as well, only at a higher cost.
    const firing = pairs.filter((p) => p.alert.status === 'firing');
    const maybeSeen = firing.some((p) => this.seen.has(p.episode));
    const known = maybeSeen ? await this.lookupEpisodes(firing.map((p) => p.episode)) : new Map<string, { runId: string; requeue: boolean }>();
    for (const p of firing) this.remember(this.seen, p.episode);
    const pairDecisions: AlertDecision[] = new Array<AlertDecision>(pairs.length);
    const toEnqueue: { runId: string; playbook: string }[] = [];
    const candidates: Candidate[] = [];
    const candidatePair: number[] = [];
    pairs.forEach((pair, k) => {
      const { alert, rule } = pair;
      const seen = alert.status === 'firing' ? known.get(pair.episode) : undefined;
      if (seen) {
        pairDecisions[k] = { fingerprint: alert.fingerprint, status: alert.status, rule: rule.name, decision: 'duplicate', runId: seen.runId };
        count(rule.name, 'duplicate');
        this.countSeen(pair.episode, nowIso);
        if (seen.requeue) toEnqueue.push({ runId: seen.runId, playbook: rule.playbook });
        return;
      }
      const planned = this.plan(alert, rule, pair.episode, now);
      if ('invalid' in planned) {
        pairDecisions[k] = { fingerprint: alert.fingerprint, status: alert.status, rule: rule.name, decision: 'invalid_params', reason: planned.invalid };
        count(rule.name, 'invalid_params');
        if (this.recorded.has(pair.episode)) this.countSeen(pair.episode, nowIso);
        else if (this.inboxOn) inbox.push({ ...inboxItem(alert, rule.name, pair.episode), decision: 'invalid_params', reason: planned.invalid });
        return;
      }
      candidatePair.push(k);
      candidates.push(planned);
      if (this.inboxOn) inbox.push({ ...inboxItem(alert, rule.name, pair.episode), cand: candidates.length });
    });

    const { results, known: knownItems } = candidates.length > 0 || inbox.length > 0 ? await this.runScript(candidates, inbox, now) : { results: [], known: [] };
    for (const j of knownItems) this.countSeen(inbox[j - 1]!.episode, nowIso);
    for (const item of inbox) if (item.cand === undefined) this.remember(this.recorded, item.episode);
    const written: object[] = [];
    const notices: NotificationRequest[] = [];
    const started: string[] = [];
    results.forEach((r, j) => {
      const c = candidates[j]!;
      count(c.rule, r.decision);
      // A duplicate's run: declared up front when the episode comes again (one round trip).
      if (r.runId && r.decision === 'duplicate') {
        this.keyHints.add(`ep:${c.episode}`, this.deps.keys.run(r.runId));
        this.keyHints.add(`ep:${c.episode}`, this.deps.keys.job(r.runId));
      }
      if (r.decision === 'enqueued' || r.decision === 'awaiting_approval') started.push(c.episode);
      if (r.requeue && r.runId) toEnqueue.push({ runId: r.runId, playbook: c.playbook });
      if ((r.decision === 'enqueued' || r.decision === 'awaiting_approval') && c.created) written.push(c.created);
      if (r.decision === 'blocked' && r.first && r.guard) {
        metrics.guardBlocks.inc({ guard: r.guard });
        metrics.runs.inc({ playbook: c.playbook, source: 'alert', status: 'blocked' });
        written.push({ type: 'guard_blocked', at: now.toISOString(), actor: 'alertmanager', runId: r.runId, target: c.target, playbook: c.playbook, rule: c.rule, guard: r.guard, detail: r.detail, episode: c.episode });
      }
      if (r.decision === 'cancelled') {
        metrics.runs.inc({ playbook: c.playbook, source: 'alert', status: 'cancelled' });
        written.push({ type: 'run_status', at: now.toISOString(), actor: 'alertmanager', runId: r.runId, target: c.target, to: 'cancelled', reason: 'alert resolved before the run started' });
      }
      if (c.notify && c.notify.length > 0 && r.runId) {
        if (r.decision === 'awaiting_approval') notices.push({ event: 'awaiting_approval', runId: r.runId, channels: c.notify });
        if (r.decision === 'blocked' && r.first && r.guard) notices.push({ event: 'blocked', runId: r.runId, channels: c.notify, detail: `guard ${r.guard}: ${r.detail ?? ''}` });
      }
      const decision: AlertDecision = { fingerprint: c.fingerprint, status: c.status, rule: c.rule, decision: r.decision };
      if (r.runId) decision.runId = r.runId;
      if (r.guard) decision.guard = r.guard;
      if (r.detail) decision.reason = r.detail;
      pairDecisions[candidatePair[j]!] = decision;
    });
    // The first rule's decision is the alert's answer; `continue` rules are counted and recorded.
    pairs.forEach((pair, k) => {
      decisions[pair.index] ??= pairDecisions[k];
    });
    for (const [key, n] of decided) {
      const [rule, decision] = key.split('\u0000') as [string, string];
      metrics.alertDecisions.inc({ rule, decision }, n);
    }
    if (written.length > 0) this.deps.audit.logWritten(written);
    // Before the jobs and the notifications: a decision a failover could still lose must not start
    // a run or page anyone. A queued run whose job was never added is added by the retry of this
    // notification, or by the sweeper once the replicas confirm it.
    if (this.deps.replicas) await this.deps.replicas.require('the decisions', '; Alertmanager will retry');
    for (const notice of notices) this.deps.notifications?.notify(notice);
    if (toEnqueue.length > 0) await this.deps.enqueuer.enqueue(toEnqueue);
    for (const episode of started) this.remember(this.enqueued, episode);

    const result = { received: notification.alerts.length, decisions: decisions.map((d) => d!) };
    if (digest !== undefined && this.deps.replays) {
      const replay = replayOf(notification, pairs, pairDecisions, result);
      if (replay) this.deps.replays.remember(digest, replay);
    }
    return result;
  }

  /** Most recent last; the oldest goes beyond SEEN_EPISODES. */
  private remember(set: Set<string>, episode: string): void {
    set.delete(episode);
    set.add(episode);
    if (set.size > SEEN_EPISODES) set.delete(set.values().next().value as string);
  }

  /** Episode key -> its run, for the episodes that already started one. */
  private async lookupEpisodes(episodes: string[]): Promise<Map<string, { runId: string; requeue: boolean }>> {
    const redis = this.deps.redis as Redis & { remediatorEpisodes(...args: string[]): Promise<(string | number)[] | string> };
    const { keys } = this.deps;
    const declared = new Set<string>();
    for (const episode of episodes) {
      declared.add(keys.episode(episode));
      if (!this.enqueued.has(episode)) for (const key of this.keyHints.keysOf(`ep:${episode}`)) declared.add(key);
    }
    const check = episodes.map((e) => (this.enqueued.has(e) ? '0' : '1')).join('');
    const flat = (await callWithDeclaredKeys(declared, this.keyHints, (k) => redis.remediatorEpisodes(String(k.length), ...k, keys.tag, check, ...episodes))) as (string | number)[];
    const known = new Map<string, { runId: string; requeue: boolean }>();
    episodes.forEach((episode, i) => {
      const runId = flat[2 * i];
      if (typeof runId === 'string' && runId !== '') known.set(episode, { runId, requeue: flat[2 * i + 1] === 1 });
    });
    return known;
  }

  private plan(alert: Alert, rule: EngineRule, episode: string, now: Date): Candidate | { invalid: string } {
    const planned = planAlertRun(alert, rule, this.deps.playbooks);
    if (!planned.ok) return { invalid: planned.invalid };
    const { playbook, target, precheck, verifyQuery } = planned;
    const params = planned.params;
    const base = { fingerprint: alert.fingerprint, status: alert.status, rule: rule.name, playbook: playbook.name, target, episode, onResolved: rule.onResolved, runTtl: Math.ceil(this.deps.runRetentionMs / 1000) };
    if (alert.status === 'resolved') return { ...base, runId: '', initialStatus: 'queued', doc: '' };
    const block = namespaceBlock(target, this.deps.guards);
    const runId = randomUUID();
    const dryRun = this.deps.globalDryRun || rule.dryRun;
    const initialStatus = rule.approval === 'required' ? 'awaiting_approval' : 'queued';
    const alertRef: AlertRef = {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? '',
      startsAt: alert.startsAt,
      labels: alert.labels,
      annotations: alert.annotations,
      ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
    };
    const run: Omit<Run, 'status'> = {
      id: runId,
      changed: false,
      dryRun,
      playbook: playbook.name,
      params,
      target,
      trigger: {
        source: 'alert',
        rule: rule.name,
        ruleConfig: {
          ...(rule.cooldownMs ? { cooldownMs: rule.cooldownMs } : {}),
          ...(rule.maxRunsPerHour !== undefined ? { maxRunsPerHour: rule.maxRunsPerHour } : {}),
          onResolved: rule.onResolved,
          dryRun: rule.dryRun,
          ...(rule.verify ? { verify: { withinMs: rule.verify.withinMs, intervalMs: rule.verify.intervalMs, silence: rule.verify.silence, ...(verifyQuery !== undefined ? { query: verifyQuery } : {}) } } : {}),
        },
        alert: alertRef,
        episode,
      },
      ...(precheck !== undefined ? { precheck: { query: precheck } } : {}),
      steps: [],
      attempts: 0,
      createdAt: now.toISOString(),
    };
    const created = {
      type: 'run_created', at: now.toISOString(), actor: 'alertmanager', runId, target, playbook: playbook.name, rule: rule.name,
      source: 'alert', fingerprint: alert.fingerprint, alertname: alertRef.alertname, episode, params, dryRun, status: initialStatus,
    };
    const candidate: Candidate = { ...base, runId, initialStatus, doc: JSON.stringify(run), created, ...(rule.notify && rule.notify.length > 0 ? { notify: rule.notify } : {}) };
    if (rule.cooldownMs) candidate.cooldownMs = rule.cooldownMs;
    if (rule.maxRunsPerHour !== undefined) candidate.maxRunsPerHour = rule.maxRunsPerHour;
    if (block) {
      candidate.blockedGuard = 'namespace';
      candidate.blockedDetail = block;
    }
    return candidate;
  }

  /**
   * Every key the intake script may touch for these candidates and inbox items: what their names
   * give, and what earlier rounds taught (the run an episode started, the workload a pod resolved to).
   * Not the job key of a new run: only this request enqueues it (the script knows, see intake-script.ts).
   */
  private scriptKeys(candidates: Candidate[], inbox: InboxItem[]): Set<string> {
    const k = this.deps.keys;
    const out = new Set<string>([k.audit, k.runs, k.live, k.awaiting, k.pause, k.inbox]);
    for (const c of candidates) {
      out.add(k.episode(c.episode)).add(k.episodeResolved(c.episode));
      for (const key of this.keyHints.keysOf(`ep:${c.episode}`)) out.add(key);
      if (c.status === 'resolved') continue;
      out.add(k.run(c.runId)).add(k.resolvedTarget(c.target)).add(k.held(c.rule, c.target)).add(k.episodeBlocked(c.episode));
      for (const key of this.keyHints.keysOf(`tgt:${c.target}`)) out.add(key);
      if (c.cooldownMs) out.add(k.cooldown(c.playbook, c.target));
      if (c.maxRunsPerHour !== undefined) out.add(k.rate(c.rule));
    }
    for (const item of inbox) out.add(k.inboxRecord(item.episode));
    return out;
  }

  private async runScript(candidates: Candidate[], inbox: InboxItem[], now: Date): Promise<{ results: ScriptResult[]; known: number[] }> {
    const redis = this.deps.redis as Redis & { remediatorIntake(...args: string[]): Promise<string> };
    // Run records and audit entries travel as their own arguments, so the script decodes only the lean part.
    const lean = candidates.map(({ doc: _doc, created: _created, notify: _notify, ...rest }) => rest);
    const bulky = candidates.flatMap((c) => [c.doc, c.created ? JSON.stringify(c.created) : '']);
    const args = [this.deps.keys.tag, String(now.getTime()), now.toISOString(), JSON.stringify(lean), JSON.stringify(inbox), ...bulky];
    const raw = (await callWithDeclaredKeys(this.scriptKeys(candidates, inbox), this.keyHints, (k) => redis.remediatorIntake(String(k.length), ...k, ...args))) as string;
    // cjson encodes an empty table as an object.
    const parsed = JSON.parse(raw) as { r: ScriptResult[] | Record<string, ScriptResult>; k: number[] | Record<string, number> };
    const list = <T>(v: T[] | Record<string, T>): T[] => (Array.isArray(v) ? v : Object.values(v));
    return { results: list(parsed.r), known: list(parsed.k) };
  }
}
