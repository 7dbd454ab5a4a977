import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { encodeAuditEntry, type AuditTrimmedEntry } from './audit-entry.js';
import { AuditChainStore } from './audit-chain-store.js';
import { anchorMac, canonicalEntry, genesisSeal, nextSeal } from './audit-seal.js';
import { logAuditEntries } from './log-audit-entries.js';
import { SealerLock } from './sealer-lock.js';
import { streamIdMs } from './stream-id.js';

export interface AuditRetention {
  maxAgeMs: number;
  maxEntries: number;
}

export interface AuditSealerOptions {
  redis: Redis;
  prefix: string;
  /** HMAC key; only ever held in memory. */
  key: Buffer;
  logger: Logger;
  /** How often the elected sealer chains new entries (default 1000). */
  intervalMs?: number;
  /** Lock lease; another process takes over this long after the sealer dies (default max(5 s, 5 intervals)). */
  lockTtlMs?: number;
  /** Applied by the elected sealer every `trimIntervalMs`; none when absent. */
  retention?: AuditRetention;
  /** Default trimIntervalFor(retention): each trim writes an audit_trimmed entry, so trimming often would flood the log. */
  trimIntervalMs?: number;
  /** How often the newest seal is logged (default 60 000), so dropping the newest entries shows against the logs. */
  sealLogIntervalMs?: number;
  /** Entries read and committed per round trip (default 500). */
  pageSize?: number;
  /** Clock for retention; tests move it. */
  now?: () => number;
}

const TRIM_BATCH = 1000;

/**
 * How often retention is applied: a twentieth of `maxAge`, between 5 s and 10 min. The stream then
 * holds at most `maxAge` plus 5 % of it (90d: plus 10 min), so Redis memory follows the
 * retention, and a trim's `audit_trimmed` entry comes at most twenty times per `maxAge`.
 */
export function trimIntervalFor(retention: AuditRetention | undefined): number {
  if (!retention) return 600_000;
  return Math.min(600_000, Math.max(5000, Math.floor(retention.maxAgeMs / 20)));
}

/**
 * Chains audit entries in stream order (docs/audit-log.md). Any process may run one; a Redis lock elects
 * the one that works.
 */
export class AuditSealer {
  readonly instanceId: string;
  private readonly store: AuditChainStore;
  private readonly lock: SealerLock;
  private readonly key: Buffer;
  private readonly genesis: string;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly pageSize: number;
  private readonly retention: AuditRetention | undefined;
  private readonly trimIntervalMs: number;
  private readonly sealLogIntervalMs: number;
  private readonly now: () => number;
  private readonly redis: Redis;
  private readonly prefix: string;

  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Serializes seal and trim work of this instance; the scripts guard against other instances. */
  private queue: Promise<unknown> = Promise.resolve();
  private nextTrimAt = 0;
  private nextSealLogAt = 0;
  private failing = false;
  private refusedHead: string | undefined;

  constructor(opts: AuditSealerOptions) {
    this.redis = opts.redis;
    this.prefix = opts.prefix;
    this.key = opts.key;
    this.logger = opts.logger;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.pageSize = opts.pageSize ?? 500;
    this.retention = opts.retention;
    this.trimIntervalMs = opts.trimIntervalMs ?? trimIntervalFor(opts.retention);
    this.sealLogIntervalMs = opts.sealLogIntervalMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.instanceId = `${hostname()}:${process.pid}:${randomUUID()}`;
    this.store = new AuditChainStore(opts.redis, opts.prefix);
    this.genesis = genesisSeal(opts.key, opts.prefix);
    this.lock = new SealerLock(opts.redis, this.store.keys.sealerLock, this.instanceId, opts.lockTtlMs ?? Math.max(5000, 5 * this.intervalMs));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the loop, waits for work in flight, and hands the lock over at once. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await this.queue.catch(() => undefined);
    await this.lock.release().catch(() => undefined);
  }

  /** Seals everything appended so far if this instance holds (or can take) the lock. Returns the count sealed. */
  sealOnce(): Promise<number> {
    return this.exclusive(async () => ((await this.lock.hold()) ? this.sealPending() : 0));
  }

  /** Applies retention now if this instance holds (or can take) the lock. Returns the count removed. */
  trim(retention: AuditRetention): Promise<number> {
    return this.exclusive(async () => ((await this.lock.hold()) ? this.trimSealed(retention) : 0));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.tick().finally(() => {
        this.inFlight = undefined;
        this.schedule(this.intervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.exclusive(async () => {
        if (!(await this.lock.hold())) return;
        await this.sealPending();
        const now = this.now();
        if (this.retention && now >= this.nextTrimAt) {
          await this.trimSealed(this.retention);
          this.nextTrimAt = now + this.trimIntervalMs;
        }
        if (now >= this.nextSealLogAt) {
          const head = await this.store.head();
          if (head) this.logger.info({ lastId: head.lastId, seal: head.lastSeal }, 'audit seal');
          this.nextSealLogAt = now + this.sealLogIntervalMs;
        }
      });
      if (this.failing) this.logger.info('audit sealer recovered');
      this.failing = false;
    } catch (err) {
      // Redis outages repeat every tick; say it once at warn.
      if (!this.failing) this.logger.warn({ err }, 'audit sealer tick failed');
      else this.logger.debug({ err }, 'audit sealer tick failed');
      this.failing = true;
    }
  }

  private async sealPending(): Promise<number> {
    const head = await this.store.head();
    const anchor = head ? undefined : await this.store.anchor();
    if (anchor && anchor.mac !== anchorMac(this.key, this.prefix, anchor.id, anchor.seal)) {
      // Chaining on from an anchor the key did not attest would seal a forged trim: refuse, say so once.
      if (this.refusedHead !== `anchor ${anchor.id}`) this.logger.error({ anchorId: anchor.id }, 'audit chain: the retention anchor is not attested by the audit key; refusing to seal, run verify');
      this.refusedHead = `anchor ${anchor.id}`;
      return 0;
    }
    let lastId = head?.lastId ?? anchor?.id;
    let lastSeal = head?.lastSeal ?? anchor?.seal ?? this.genesis;
    let expectedHead = head?.lastId;
    let sealed = 0;
    for (;;) {
      const rows = await this.redis.xrange(this.store.keys.stream, lastId === undefined ? '-' : `(${lastId}`, '+', 'COUNT', this.pageSize);
      if (rows.length === 0) break;
      const seals: [string, string][] = [];
      for (const [id, fields] of rows) {
        lastSeal = nextSeal(this.key, lastSeal, canonicalEntry(fields));
        seals.push([id, lastSeal]);
      }
      const result = await this.store.commit(expectedHead, seals);
      if (result === 'CONFLICT') {
        // Another sealer moved the head: its work is as good as ours; the next tick continues from it.
        this.logger.debug({ expectedHead }, 'audit head moved under the sealer');
        break;
      }
      if (result === 'SEALED') {
        if (this.refusedHead !== expectedHead) {
          this.logger.error(
            { lastId: expectedHead, firstId: rows[0]![0] },
            'audit chain: entries after the sealed head already carry seals (head rolled back or removed); refusing to re-seal, run verify',
          );
          this.refusedHead = expectedHead;
        }
        break;
      }
      sealed += seals.length;
      lastId = rows[rows.length - 1]![0];
      expectedHead = lastId;
      if (rows.length < this.pageSize) break;
      // A long backlog can outlast the lease; stop as soon as another instance could have taken over.
      if (!(await this.lock.hold())) break;
    }
    if (sealed > 0) this.logger.debug({ sealed, lastId }, 'audit entries sealed');
    return sealed;
  }

  private async trimSealed(retention: AuditRetention): Promise<number> {
    let trimmed = 0;
    for (let conflicts = 0; conflicts < 3; ) {
      const head = await this.store.head();
      if (!head) break;
      const anchor = await this.store.anchor();
      const cutoffMs = this.now() - retention.maxAgeMs;
      const len = await this.redis.xlen(this.store.keys.stream);
      // Trim one more than the excess: the audit_trimmed entry takes its place.
      const excess = len > retention.maxEntries ? len - retention.maxEntries + 1 : 0;
      // Only sealed entries, never the head itself.
      const rows = await this.redis.xrange(this.store.keys.stream, anchor ? `(${anchor.id}` : '-', `(${head.lastId}`, 'COUNT', TRIM_BATCH);
      let aged = 0;
      while (aged < rows.length && streamIdMs(rows[aged]![0]) < cutoffMs) aged++;
      // Removing a single entry for maxEntries gains nothing once its audit_trimmed entry is added.
      const byCount = Math.min(excess, rows.length) >= 2 ? Math.min(excess, rows.length) : 0;
      const n = Math.max(aged, byCount);
      if (n === 0) break;
      const ids = rows.slice(0, n).map(([id]) => id);
      const cutId = ids[n - 1]!;
      const cutSeal = await this.store.sealOf(cutId);
      if (cutSeal === undefined) break;
      const entry: AuditTrimmedEntry = {
        type: 'audit_trimmed',
        at: new Date(this.now()).toISOString(),
        actor: 'system',
        count: n,
        anchorId: cutId,
        reason: aged >= byCount ? 'maxAge' : 'maxEntries',
        lengthBefore: len,
      };
      const cut = { id: cutId, seal: cutSeal, mac: anchorMac(this.key, this.prefix, cutId, cutSeal) };
      const result = await this.store.trimThrough(anchor?.id, cut, ids, encodeAuditEntry(entry));
      if (!result.ok) {
        conflicts++;
        continue;
      }
      logAuditEntries(this.logger, [entry], [result.trimmedEntryId]);
      trimmed += n;
    }
    return trimmed;
  }
}
