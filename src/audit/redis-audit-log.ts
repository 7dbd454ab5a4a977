import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RetryableError } from '../domain/errors.js';
import { AUDIT_ENTRY_FIELD, encodeAuditEntry, type AuditEntry } from './audit-entry.js';
import { auditKeys, type AuditKeys } from './audit-keys.js';
import { decodeAuditEntry, type UnreadableAuditEntry } from './decode-audit-entry.js';
import { logAuditEntries } from './log-audit-entries.js';

/** A stream entry whose `e` field is missing or not a JSON object (never written by Remediator). */
export type { UnreadableAuditEntry } from './decode-audit-entry.js';

export interface AuditRecord {
  id: string;
  entry: AuditEntry | UnreadableAuditEntry;
  /** Hex seal, once the sealer has chained the entry. */
  seal?: string;
}

export interface AuditReadOptions {
  /** First id to return (inclusive); default the oldest. */
  from?: string;
  /** Return entries strictly after this id (a page cursor); wins over `from`. */
  after?: string;
  /** At most this many (default 100). */
  count?: number;
}

/** The append-only audit stream (docs/audit-log.md). Sealing is `AuditSealer`'s job. */
export class RedisAuditLog {
  private readonly redis: Redis;
  private readonly logger: Logger;
  readonly keys: AuditKeys;

  constructor(opts: { redis: Redis; prefix: string; logger: Logger }) {
    this.redis = opts.redis;
    this.logger = opts.logger;
    this.keys = auditKeys(opts.prefix);
  }

  /** Appends in one MULTI (one round trip, all or nothing) and logs each entry. Returns stream ids. */
  async append(entries: readonly AuditEntry[]): Promise<string[]> {
    if (entries.length === 0) return [];
    const multi = this.redis.multi();
    for (const entry of entries) multi.xadd(this.keys.stream, '*', AUDIT_ENTRY_FIELD, encodeAuditEntry(entry));
    let results: [Error | null, unknown][] | null;
    try {
      results = await multi.exec();
    } catch (err) {
      throw new RetryableError(`audit append failed: ${(err as Error).message}`, { cause: err });
    }
    if (!results) throw new RetryableError('audit append failed: transaction aborted');
    const ids = results.map(([err, id]) => {
      if (err) throw new RetryableError(`audit append failed: ${err.message}`, { cause: err });
      return String(id);
    });
    logAuditEntries(this.logger, entries, ids);
    return ids;
  }

  /** Logs entries a Lua script already wrote to the stream (the script cannot reach pino). */
  logWritten(entries: readonly object[]): void {
    logAuditEntries(this.logger, entries);
  }

  /** Entries in stream order, each with its seal when sealed. Two round trips. */
  async read(opts: AuditReadOptions = {}): Promise<AuditRecord[]> {
    const start = opts.after !== undefined ? `(${opts.after}` : (opts.from ?? '-');
    const rows = await this.redis.xrange(this.keys.stream, start, '+', 'COUNT', opts.count ?? 100);
    if (rows.length === 0) return [];
    const seals = await this.redis.hmget(this.keys.seals, ...rows.map(([id]) => id));
    return rows.map(([id, fields], i) => {
      const record: AuditRecord = { id, entry: decodeAuditEntry(id, fields) };
      const seal = seals[i];
      if (seal) record.seal = seal;
      return record;
    });
  }
}

