import type { Redis } from 'ioredis';
import type { AuditEntry, AuditEntryType } from './audit-entry.js';
import { auditKeys, type AuditKeys } from './audit-keys.js';
import { decodeAuditEntry, type UnreadableAuditEntry } from './decode-audit-entry.js';
import { compareStreamIds, nextStreamId } from './stream-id.js';

/** Every entry kind the core writes, at run time (the compile-time check below keeps it complete). */
export const AUDIT_ENTRY_TYPES = [
  'run_created',
  'guard_blocked',
  'run_status',
  'kube_mutation',
  'operator_action',
  'auth_failed',
  'alert_resolved',
  'alert_decision',
  'audit_trimmed',
  'health_check',
  'precheck',
  'verification',
  'escalation',
  'notification_dead_letter',
] as const satisfies readonly AuditEntryType[];
type MissingType = Exclude<AuditEntryType, (typeof AUDIT_ENTRY_TYPES)[number]>;
const typesComplete: [MissingType] extends [never] ? true : MissingType = true;
void typesComplete;

/** What the `type` filter accepts: the entry kinds plus `unreadable` (a stream entry that is not an entry). */
export const QUERYABLE_AUDIT_TYPES: readonly string[] = [...AUDIT_ENTRY_TYPES, 'unreadable'];

export type AuditRecordEntry = AuditEntry | UnreadableAuditEntry;

/** One item of the API: the stream id, the entry's own fields, and whether the sealer has chained it. */
export type AuditItem = AuditRecordEntry & { id: string; sealed: boolean };

export interface AuditFilter {
  /** Written at or after this time (ms); compared on the stream id, i.e. when Redis appended it. */
  sinceMs?: number;
  /** Written at or before this time (ms). */
  untilMs?: number;
  /** Written strictly after this stream id (`--follow` polls with the newest id it has seen). */
  after?: string;
  /** Any of these types. */
  types?: readonly string[];
  actor?: string;
  /**
   * `target` (or a kube_mutation's `object`) equal to this, or under it when it is a prefix ending
   * at a path segment: `node/` matches every node, `deployment/ml-serving` every deployment in
   * that namespace, `node/gpu-node-3` only that node (not `node/gpu-node-30`).
   */
  target?: string;
  playbook?: string;
  rule?: string;
  runId?: string;
}

export interface AuditPage {
  /** Newest first. */
  items: AuditItem[];
  /** Pass back as `cursor` for the next (older) page; null when the range is exhausted. */
  nextCursor: string | null;
}

export interface AuditQueryOptions {
  /** Items per page (1…1000). */
  limit: number;
  /** A `nextCursor` of an earlier page. */
  cursor?: string;
  /**
   * Stream entries examined per request before answering with what matched so far (and a cursor):
   * a rare filter over a long log answers in bounded time. Default 20 000.
   */
  scanBudget?: number;
}

const MAX_PART = 0xffffffffffffffffn;
const MAX_ID = `${MAX_PART}-${MAX_PART}`;
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const CURSOR_VERSION = 'a1';

/** A complete stream id `ms-seq` with both parts in 64 bits, else undefined. */
export function parseStreamId(text: string): string | undefined {
  const m = STREAM_ID.exec(text);
  if (!m) return undefined;
  const ms = BigInt(m[1]!);
  const seq = BigInt(m[2]!);
  return ms <= MAX_PART && seq <= MAX_PART ? `${ms}-${seq}` : undefined;
}

/** The largest id smaller than `id`; undefined below 0-0. */
export function prevStreamId(id: string): string | undefined {
  const [msText, seqText] = id.split('-');
  const ms = BigInt(msText!);
  const seq = BigInt(seqText ?? '0');
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_PART}`;
  return undefined;
}

/**
 * The opaque page cursor: the stream id of the last item handed out, so the next page starts just
 * below it. Stream ids only grow, so entries appended meanwhile land above every cursor and paging
 * neither skips nor repeats.
 */
export function encodeAuditCursor(id: string): string {
  return Buffer.from(`${CURSOR_VERSION}:${id}`, 'utf8').toString('base64url');
}

/** The stream id inside a cursor, or undefined when it is not one this API made. */
export function decodeAuditCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const prefix = `${CURSOR_VERSION}:`;
  return text.startsWith(prefix) ? parseStreamId(text.slice(prefix.length)) : undefined;
}

export class InvalidAuditCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidAuditCursorError';
  }
}


function stringField(entry: AuditRecordEntry, key: string): string | undefined {
  const v = (entry as unknown as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/** `value` is `filter` or lies under it at a `/` boundary (see AuditFilter.target). */
export function targetMatches(value: string | undefined, filter: string): boolean {
  if (value === undefined) return false;
  if (value === filter) return true;
  if (!value.startsWith(filter)) return false;
  return filter.endsWith('/') || value[filter.length] === '/';
}

export function matchesAuditFilter(entry: AuditRecordEntry, f: AuditFilter): boolean {
  if (f.types && !f.types.includes(entry.type)) return false;
  if (f.actor !== undefined && entry.actor !== f.actor) return false;
  if (f.runId !== undefined && stringField(entry, 'runId') !== f.runId) return false;
  if (f.playbook !== undefined && stringField(entry, 'playbook') !== f.playbook) return false;
  if (f.rule !== undefined && stringField(entry, 'rule') !== f.rule) return false;
  if (f.target !== undefined) {
    const object = entry.type === 'kube_mutation' ? stringField(entry, 'object') : undefined;
    if (!targetMatches(stringField(entry, 'target'), f.target) && !targetMatches(object, f.target)) return false;
  }
  return true;
}

interface IdRange {
  /** Inclusive bounds, both complete ids. */
  lo: string;
  hi: string;
}

function maxId(a: string, b: string): string {
  return compareStreamIds(a, b) >= 0 ? a : b;
}

function minId(a: string, b: string): string {
  return compareStreamIds(a, b) <= 0 ? a : b;
}

function clampMs(ms: number): bigint {
  return BigInt(Math.max(0, Math.floor(ms)));
}

/** The stream-id range a filter (and a cursor below which to continue) covers; undefined when empty. */
function rangeOf(f: AuditFilter, below?: string): IdRange | undefined {
  let lo = '0-0';
  let hi = MAX_ID;
  if (f.sinceMs !== undefined) lo = maxId(lo, `${clampMs(f.sinceMs)}-0`);
  if (f.after !== undefined) {
    if (f.after === MAX_ID) return undefined;
    lo = maxId(lo, nextStreamId(f.after));
  }
  if (f.untilMs !== undefined) {
    if (f.untilMs < 0) return undefined;
    hi = minId(hi, `${clampMs(f.untilMs)}-${MAX_PART}`);
  }
  if (below !== undefined) {
    const prev = prevStreamId(below);
    if (prev === undefined) return undefined;
    hi = minId(hi, prev);
  }
  return compareStreamIds(lo, hi) <= 0 ? { lo, hi } : undefined;
}

type Row = [id: string, fields: string[]];

async function withSeals(redis: Redis, keys: AuditKeys, matched: { id: string; entry: AuditRecordEntry }[]): Promise<AuditItem[]> {
  if (matched.length === 0) return [];
  const seals = await redis.hmget(keys.seals, ...matched.map((m) => m.id));
  // Object.assign rather than a literal: the stream id must win over any `id` a foreign writer put in the entry.
  return matched.map((m, i) => Object.assign({ id: m.id }, m.entry, { id: m.id, sealed: typeof seals[i] === 'string' }) as AuditItem);
}

/**
 * The audit log reader of the API (docs/http-api.md; docs/audit-log.md). Reads the stream in bounded batches
 * (XREVRANGE/XRANGE with COUNT), never the whole of it.
 */
export class AuditQuery {
  readonly keys: AuditKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = auditKeys(prefix);
  }

  /** One page, newest first. Throws InvalidAuditCursorError for a cursor this API did not make. */
  async page(filter: AuditFilter, opts: AuditQueryOptions): Promise<AuditPage> {
    let below: string | undefined;
    if (opts.cursor !== undefined) {
      below = decodeAuditCursor(opts.cursor);
      if (below === undefined) throw new InvalidAuditCursorError();
    }
    const limit = opts.limit;
    const budget = opts.scanBudget ?? 20_000;
    // Field filters discard entries, so then read more than a page at a time, but never an unbounded amount.
    const selective = filter.types !== undefined || [filter.actor, filter.target, filter.playbook, filter.rule, filter.runId].some((v) => v !== undefined);
    const batch = selective ? Math.min(1000, Math.max(200, limit)) : limit;
    const matched: { id: string; entry: AuditRecordEntry }[] = [];
    let range = rangeOf(filter, below);
    let nextCursor: string | null = null;
    let scanned = 0;
    scan: while (range) {
      const rows = (await this.redis.xrevrange(this.keys.stream, range.hi, range.lo, 'COUNT', batch)) as Row[];
      for (let i = 0; i < rows.length; i++) {
        const [id, fields] = rows[i]!;
        const entry = decodeAuditEntry(id, fields);
        if (!matchesAuditFilter(entry, filter)) continue;
        matched.push({ id, entry });
        if (matched.length === limit) {
          const more = i < rows.length - 1 || rows.length === batch;
          if (more && compareStreamIds(id, range.lo) > 0) nextCursor = encodeAuditCursor(id);
          break scan;
        }
      }
      if (rows.length < batch) break;
      const last = rows[rows.length - 1]![0];
      scanned += rows.length;
      const prev = prevStreamId(last);
      range = prev !== undefined && compareStreamIds(range.lo, prev) <= 0 ? { lo: range.lo, hi: prev } : undefined;
      if (range && scanned >= budget) {
        nextCursor = encodeAuditCursor(last);
        break;
      }
    }
    return { items: await withSeals(this.redis, this.keys, matched), nextCursor };
  }

  /**
   * The whole matching range, OLDEST FIRST, one page of matches per iteration (possibly empty
   * pages are skipped). The range ends at the newest entry present when the export starts, so an
   * export of a busy log terminates.
   */
  async *export(filter: AuditFilter, pageSize = 1000): AsyncGenerator<AuditItem[]> {
    const newest = (await this.redis.xrevrange(this.keys.stream, '+', '-', 'COUNT', 1)) as Row[];
    if (newest.length === 0) return;
    const range = rangeOf(filter);
    if (!range) return;
    range.hi = minId(range.hi, newest[0]![0]);
    while (compareStreamIds(range.lo, range.hi) <= 0) {
      const rows = (await this.redis.xrange(this.keys.stream, range.lo, range.hi, 'COUNT', pageSize)) as Row[];
      if (rows.length === 0) return;
      const matched: { id: string; entry: AuditRecordEntry }[] = [];
      for (const [id, fields] of rows) {
        const entry = decodeAuditEntry(id, fields);
        if (matchesAuditFilter(entry, filter)) matched.push({ id, entry });
      }
      if (matched.length > 0) yield await withSeals(this.redis, this.keys, matched);
      if (rows.length < pageSize) return;
      range.lo = nextStreamId(rows[rows.length - 1]![0]);
    }
  }
}
