import type { Redis } from 'ioredis';
import type { Run, RunStatus } from '../domain/run.js';
import type { RedisKeys } from './redis-keys.js';
import { declaredKeysScript } from '../redis/declared-keys-lua.js';
import { RunRecordGoneError } from '../domain/errors.js';

/** Moves a run's status only from an expected one, so a concurrent cancel is never overwritten. */
const TRANSITION_SCRIPT = declaredKeysScript(`
local st = call('HGET', KEYS[1], 'status')
if not st then return false end
local allowed = cjson.decode(ARGV[1])
local ok = false
for _, s in ipairs(allowed) do if s == st then ok = true end end
if not ok then return st end
call('HSET', KEYS[1], 'status', ARGV[2], 'doc', ARGV[3])
if ARGV[4] ~= '' then call('HSET', KEYS[1], 'reason', ARGV[4]) end
if ARGV[5] ~= '' then call('HSET', KEYS[1], 'finishedAt', ARGV[5]) end
if ARGV[6] ~= '' then call('HSET', KEYS[1], 'guard', ARGV[6]) end
if ARGV[7] ~= '' then call('XADD', KEYS[2], '*', 'e', ARGV[7]) end
if ARGV[8] ~= '' then call('ZADD', KEYS[3], tonumber(ARGV[8]), ARGV[9]) end
return 'OK'
`);

/**
 * Rewrites a run's document (and appends its audit entries) only while the record has its
 * status: after a wipe, a running attempt must not recreate a record with a doc and no status.
 * KEYS: run, audit stream. ARGV: doc, audit entries… Returns 'OK' or 'GONE'.
 */
const SAVE_DOC_SCRIPT = declaredKeysScript(`
if call('HEXISTS', KEYS[1], 'status') == 0 then return 'GONE' end
call('HSET', KEYS[1], 'doc', ARGV[1])
for i = 2, #ARGV do call('XADD', KEYS[2], '*', 'e', ARGV[i]) end
return 'OK'
`);

/**
 * Run records: a hash per run. `status` (and `reason`, `finishedAt`, `guard`) are separate fields
 * so the intake script can cancel a run without rewriting its JSON document.
 */
export class RunStore {
  /**
   * `logWritten` gets every audit entry this store wrote to the stream (status transitions, step
   * outcomes), so each is also a pino line; the stream stays the record of truth.
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly logWritten: (entries: readonly object[]) => void = () => undefined,
  ) {
    redis.defineCommand('remediatorTransition', { numberOfKeys: 3, lua: TRANSITION_SCRIPT });
    redis.defineCommand('remediatorSaveDoc', { numberOfKeys: 2, lua: SAVE_DOC_SCRIPT });
  }

  async get(id: string): Promise<Run | undefined> {
    const h = await this.redis.hgetall(this.keys.run(id));
    return decodeRun(h);
  }

  /**
   * Rewrites the document (steps, attempts…) without touching the status fields. With audit
   * entries, both land in one MULTI: a step's outcome and its audit entry are written together or
   * not at all.
   */
  async saveDoc(run: Run, auditEntries: readonly object[] = []): Promise<void> {
    const redis = this.redis as Redis & { remediatorSaveDoc(...args: string[]): Promise<string> };
    const result = await redis.remediatorSaveDoc(this.keys.run(run.id), this.keys.audit, JSON.stringify(run), ...auditEntries.map((e) => JSON.stringify(e)));
    // Redis lost the record (wiped, or restarted without persistence): never recreate half a run;
    // the attempt stops here, before its next request.
    if (result === 'GONE') throw new RunRecordGoneError(`run ${run.id}: its record is gone from Redis (wiped or restarted without persistence); this attempt stops`);
    if (auditEntries.length > 0) this.logWritten(auditEntries);
  }

  /**
   * Sets `run.status` to `to` if the stored status is one of `from`; writes the audit entry in the
   * same script. A run that ends with a pending verification joins the verifying set in the same
   * script, so the sweeper finds it even if the process dies before scheduling the first check.
   * Returns 'OK' or the status that prevented it.
   */
  async transition(run: Run, from: RunStatus[], to: RunStatus, auditEntry?: object): Promise<'OK' | RunStatus | 'missing'> {
    const redis = this.redis as Redis & { remediatorTransition(...args: string[]): Promise<string | null> };
    const doc = { ...run, status: to };
    const result = await redis.remediatorTransition(
      this.keys.run(run.id),
      this.keys.audit,
      this.keys.verifying,
      JSON.stringify(from),
      to,
      JSON.stringify(doc),
      run.reason ?? '',
      run.finishedAt ?? '',
      run.guard ? JSON.stringify(run.guard) : '',
      auditEntry ? JSON.stringify(auditEntry) : '',
      run.verification?.result === 'pending' ? String(Date.parse(run.verification.deadline)) : '',
      run.id,
    );
    if (result === 'OK') {
      run.status = to;
      if (auditEntry) this.logWritten([auditEntry]);
      return 'OK';
    }
    return (result ?? 'missing') as RunStatus | 'missing';
  }

  async status(id: string): Promise<RunStatus | undefined> {
    return ((await this.redis.hget(this.keys.run(id), 'status')) ?? undefined) as RunStatus | undefined;
  }

  /**
   * Newest first, filtered, in pages. Scans the time index in batches, so a filter that matches
   * rarely still answers; the cursor resumes after the last run returned.
   */
  async query(filter: RunFilter, limit: number, cursor?: string): Promise<RunPage> {
    const after = cursor ? decodeCursor(cursor) : undefined;
    if (cursor && !after) throw new Error('invalid cursor');
    const items: Run[] = [];
    let max = after ? String(after.score) : '+inf';
    const min = filter.sinceMs !== undefined ? String(filter.sinceMs) : '-inf';
    let skipThrough = after;
    const batch = Math.max(100, limit * 2);
    for (let scanned = 0; scanned < 20_000; ) {
      const rows = await this.redis.zrevrangebyscore(this.keys.runs, max, min, 'WITHSCORES', 'LIMIT', 0, batch);
      if (rows.length === 0) break;
      const entries: { id: string; score: number }[] = [];
      for (let i = 0; i < rows.length; i += 2) entries.push({ id: rows[i]!, score: Number(rows[i + 1]) });
      // Equal scores come in reverse lexicographic order: skip up to and including the cursor's run.
      const fresh = skipThrough ? entries.filter((e) => e.score < skipThrough!.score || e.id < skipThrough!.id) : entries;
      scanned += entries.length;
      const pipeline = this.redis.pipeline();
      for (const e of fresh) pipeline.hgetall(this.keys.run(e.id));
      const docs = (await pipeline.exec()) ?? [];
      for (let i = 0; i < fresh.length; i++) {
        const run = decodeRun(docs[i]?.[1] as Record<string, string>);
        if (!run || !matchesFilter(run, filter)) continue;
        items.push(run);
        if (items.length === limit) {
          const e = fresh[i]!;
          const more = i < fresh.length - 1 || entries.length === batch;
          return more ? { items, nextCursor: encodeCursor(e.score, e.id) } : { items };
        }
      }
      if (entries.length < batch) break;
      const last = entries[entries.length - 1]!;
      max = String(last.score);
      skipThrough = last;
    }
    return { items };
  }

  /** Newest first, unfiltered. */
  async list(opts: { limit: number }): Promise<Run[]> {
    return (await this.query({}, opts.limit)).items;
  }

}

export interface RunFilter {
  status?: RunStatus[];
  playbook?: string;
  rule?: string;
  target?: string;
  /** Created at or after (ms). */
  sinceMs?: number;
}

export interface RunPage {
  items: Run[];
  nextCursor?: string;
}

/** A cursor names the last run returned: its score and id, so concurrent inserts never shift a page. */
function encodeCursor(score: number, id: string): string {
  return Buffer.from(`${score}:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { score: number; id: string } | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const at = text.indexOf(':');
  const score = Number(text.slice(0, at));
  if (at < 1 || !Number.isFinite(score)) return undefined;
  return { score, id: text.slice(at + 1) };
}

export function matchesFilter(run: Run, f: RunFilter): boolean {
  if (f.status && !f.status.includes(run.status)) return false;
  if (f.playbook && run.playbook !== f.playbook) return false;
  if (f.rule && run.trigger.rule !== f.rule) return false;
  if (f.target && run.target !== f.target && !(run.target.startsWith(`${f.target}/`))) return false;
  return true;
}

export function decodeRun(h: Record<string, string>): Run | undefined {
  if (!h.doc) return undefined;
  const run = JSON.parse(h.doc) as Run;
  run.status = h.status as RunStatus;
  if (h.reason) run.reason = h.reason;
  if (h.finishedAt) run.finishedAt = h.finishedAt;
  if (h.guard) run.guard = JSON.parse(h.guard) as Run['guard'];
  // Written by whoever cancels, beside the document the executor rewrites.
  if (h.cancelRequested) run.cancelRequested = JSON.parse(h.cancelRequested) as Run['cancelRequested'];
  return run;
}
