import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';
import { INBOX_MAX, INBOX_MAX_AGE_MS } from './intake-script.js';
import { declaredKeysScript } from '../redis/declared-keys-lua.js';
import { ValidationError, type GuardName } from '../domain/errors.js';
import type { Decision } from '../observability/metrics.js';

/** One episode the webhook saw (`GET /api/v1/alerts`); written by the intake script. */
export interface InboxItem {
  fingerprint: string;
  alertname: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorURL: string;
  status: 'firing' | 'resolved' | 'invalid';
  startsAt: string;
  firstSeenAt: string;
  lastSeenAt: string;
  seen: number;
  rule: string;
  decision: Decision;
  runId?: string;
  guard?: GuardName;
  reason?: string;
}

export interface InboxFilter {
  decision?: string;
  alertname?: string;
  rule?: string;
  /** First seen at or after (ms). */
  sinceMs?: number;
  limit: number;
  cursor?: string;
}

export const INBOX_LIMIT_MAX = 500;
const SCAN_CHUNK = 500;

/** The cursor: where the last page ended in the index (first-seen score, episode), opaque to clients. */
function encodeCursor(score: number, member: string): string {
  return Buffer.from(JSON.stringify([score, member])).toString('base64url');
}

function decodeCursor(cursor: string): { score: number; member: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return { score: v[0], member: v[1] };
  } catch {
    // fall through
  }
  throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this server issued' }]);
}

function parseJson(v: string | undefined): Record<string, string> {
  try {
    const o = JSON.parse(v ?? '{}') as unknown;
    return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function toItem(h: Record<string, string>): InboxItem {
  const item: InboxItem = {
    fingerprint: h.fingerprint ?? '',
    alertname: h.alertname ?? '',
    labels: parseJson(h.labels),
    annotations: parseJson(h.annotations),
    generatorURL: h.generatorURL ?? '',
    status: (h.status ?? 'firing') as InboxItem['status'],
    startsAt: h.startsAt ?? '',
    firstSeenAt: h.firstSeenAt ?? '',
    lastSeenAt: h.lastSeenAt ?? '',
    seen: Number(h.seen ?? 1),
    rule: h.rule ?? 'none',
    decision: (h.decision ?? 'unmatched') as Decision,
  };
  if (h.runId) item.runId = h.runId;
  if (h.guard) item.guard = h.guard as GuardName;
  if (h.reason) item.reason = h.reason;
  return item;
}

/**
 * Reads the alert inbox newest first. The index is walked by (first seen, episode) descending, so a
 * cursor stays valid while new records arrive (they sort before it).
 */
/** Records one trim round removes at most (one script call). */
const TRIM_BATCH = 1000;

/**
 * KEYS: the index, then the records of ARGV[3..] (the oldest index entries, oldest first).
 * ARGV: max records, the oldest first-seen (ms) kept, episodes. Drops each episode while it is
 * older than that or the index holds more than max; stops at the first it keeps. Returns how many.
 */
const INBOX_TRIM_SCRIPT = declaredKeysScript(`
local max = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local n = call('ZCARD', KEYS[1])
local dropped = 0
for i = 3, #ARGV do
  local score = call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    if tonumber(score) >= cutoff and n <= max then break end
    call('ZREM', KEYS[1], ARGV[i])
    call('DEL', KEYS[i - 1])
    n = n - 1
    dropped = dropped + 1
  end
end
return dropped
`);

export class AlertInbox {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('remediatorInboxTrim', { lua: INBOX_TRIM_SCRIPT });
  }

  /**
   * How often an episode's notifications arrived and when the last one did (for a run's `seen` and
   * `lastSeenAt`); undefined once its record left the bounded inbox. Repeats are counted in
   * batches, so this can lag the newest repeat by the intake's flush interval.
   */
  async seenOf(episode: string): Promise<{ seen: number; lastSeenAt: string } | undefined> {
    const [seen, lastSeenAt] = await this.redis.hmget(this.keys.inboxRecord(episode), 'seen', 'lastSeenAt');
    if (!lastSeenAt) return undefined;
    return { seen: Number(seen ?? 1), lastSeenAt };
  }

  async list(filter: InboxFilter): Promise<{ items: InboxItem[]; nextCursor: string | null }> {
    let cursor = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const min = filter.sinceMs !== undefined ? String(filter.sinceMs) : '-inf';
    const items: InboxItem[] = [];
    for (;;) {
      const entries = await this.after(cursor, min, SCAN_CHUNK);
      if (entries.length === 0) return { items, nextCursor: null };
      const pipeline = this.redis.pipeline();
      for (const e of entries) pipeline.hgetall(this.keys.inboxRecord(e.member));
      const hashes = (await pipeline.exec()) ?? [];
      for (let i = 0; i < entries.length; i += 1) {
        const [err, h] = hashes[i] ?? [];
        const e = entries[i]!;
        // A record expired or trimmed meanwhile is skipped.
        if (err || !h || Object.keys(h as object).length === 0) continue;
        const item = toItem(h as Record<string, string>);
        if (filter.decision !== undefined && item.decision !== filter.decision) continue;
        if (filter.alertname !== undefined && item.alertname !== filter.alertname) continue;
        if (filter.rule !== undefined && item.rule !== filter.rule) continue;
        items.push(item);
        if (items.length === filter.limit) {
          const more = i < entries.length - 1 || (await this.after(e, min, 1)).length > 0;
          return { items, nextCursor: more ? encodeCursor(e.score, e.member) : null };
        }
      }
      cursor = entries[entries.length - 1];
    }
  }

  /**
   * Keeps the inbox within INBOX_MAX records and INBOX_MAX_AGE_MS (first seen): drops the oldest
   * index entries and their records. Run by the sweeper (every process, a few seconds apart), not
   * by the intake script, whose keys are declared up front and cannot include records it would
   * only find by reading the index; between sweeps the index may run a little over. Returns how
   * many records it dropped.
   */
  async trim(nowMs: number, max = INBOX_MAX, maxAgeMs = INBOX_MAX_AGE_MS): Promise<number> {
    const redis = this.redis as Redis & { remediatorInboxTrim(...args: string[]): Promise<number> };
    let dropped = 0;
    for (;;) {
      // The oldest entries are only candidates: the script drops each one only if it is still too
      // old or the inbox still too full when it runs, so a concurrent trim never drops twice.
      const candidates = await this.redis.zrange(this.keys.inbox, 0, TRIM_BATCH - 1);
      if (candidates.length === 0) return dropped;
      const keys = [this.keys.inbox, ...candidates.map((e) => this.keys.inboxRecord(e))];
      const n = await redis.remediatorInboxTrim(String(keys.length), ...keys, String(max), String(nowMs - maxAgeMs), ...candidates);
      dropped += n;
      if (n < TRIM_BATCH) return dropped;
    }
  }

  /** Up to `count` index entries strictly after the cursor, newest first, first seen at or after `min`. */
  private async after(cursor: { score: number; member: string } | undefined, min: string, count: number): Promise<{ member: string; score: number }[]> {
    const max = cursor ? String(cursor.score) : '+inf';
    const out: { member: string; score: number }[] = [];
    for (let offset = 0; ; offset += count) {
      const flat = await this.redis.zrevrangebyscore(this.keys.inbox, max, min, 'WITHSCORES', 'LIMIT', offset, count);
      for (let i = 0; i < flat.length; i += 2) {
        const member = flat[i]!;
        const score = Number(flat[i + 1]);
        // Members of the cursor's own score sort descending: those at or before it were served.
        if (cursor && score === cursor.score && member >= cursor.member) continue;
        out.push({ member, score });
      }
      if (out.length > 0 || flat.length < 2 * count) return out.slice(0, count);
    }
  }
}
