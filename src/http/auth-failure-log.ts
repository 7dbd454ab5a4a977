import type { AuthFailureSink } from './auth.js';

/** Clients tracked one by one; failures from further addresses are summed in one entry. */
export const MAX_TRACKED_CLIENTS = 256;
/** First failures written at once per window (the rest wait for the window's flush). */
export const IMMEDIATE_PER_WINDOW = 20;
/** Failures of one client within its window after which it is answered 429 until the window ends. */
export const BACKOFF_AFTER = 20;

interface Tracked {
  /** Failures not yet written. */
  count: number;
  /** All failures in this window (for the backoff). */
  total: number;
  reason: string;
  first: number;
}

/**
 * Failed authentications are audited aggregated (docs/audit-log.md): at most one entry per client address
 * per minute with its count, and a bounded number of addresses tracked. A spray from many
 * addresses cannot flood the audit log or memory: per process and minute at most
 * IMMEDIATE_PER_WINDOW + MAX_TRACKED_CLIENTS + 1 entries are written, and at most
 * MAX_TRACKED_CLIENTS addresses are held. A client that keeps failing is told to back off (429
 * with Retry-After) for the rest of its window, before its token is even looked at.
 */
export class AuthFailureLog implements AuthFailureSink {
  private readonly tracked = new Map<string, Tracked>();
  /** Failures from addresses beyond MAX_TRACKED_CLIENTS, summed. */
  private overflow = { count: 0, reason: '', first: 0 };
  private windowStart: number;
  private immediate = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (entries: object[]) => Promise<unknown>,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  failed(client: string, reason: string): void {
    const now = this.now();
    this.timer ??= setInterval(() => void this.flush(), Math.min(this.windowMs, 10_000));
    this.timer.unref();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.immediate = 0;
    }
    const entry = this.tracked.get(client);
    if (entry) {
      entry.count += 1;
      entry.total += 1;
      entry.reason = reason;
      return;
    }
    if (this.tracked.size >= MAX_TRACKED_CLIENTS) {
      if (this.overflow.count === 0) this.overflow.first = now;
      this.overflow.count += 1;
      this.overflow.reason = reason;
      return;
    }
    if (this.immediate < IMMEDIATE_PER_WINDOW) {
      // The first failures of a window are written at once, so a reviewer sees an attack start.
      this.immediate += 1;
      this.tracked.set(client, { count: 0, total: 1, reason, first: now });
      void this.write([this.entry(now, client, 1, reason)]).catch(() => undefined);
      return;
    }
    this.tracked.set(client, { count: 1, total: 1, reason, first: now });
  }

  /** Seconds until a client that failed too often may try again; undefined when it may now. */
  retryAfter(client: string): number | undefined {
    const entry = this.tracked.get(client);
    if (!entry || entry.total < BACKOFF_AFTER) return undefined;
    const left = entry.first + this.windowMs - this.now();
    return left > 0 ? Math.ceil(left / 1000) : undefined;
  }

  /** Clients held in memory now (bounded by MAX_TRACKED_CLIENTS). */
  trackedClients(): number {
    return this.tracked.size;
  }

  /** Writes the counts of clients whose window ended (all of them with `all`, on exit). */
  async flush(all = false): Promise<void> {
    const now = this.now();
    const entries: object[] = [];
    for (const [client, e] of this.tracked) {
      if (!all && now - e.first < this.windowMs) continue;
      if (e.count > 0) entries.push(this.entry(now, client, e.count, e.reason));
      this.tracked.delete(client);
    }
    if (this.overflow.count > 0 && (all || now - this.overflow.first >= this.windowMs)) {
      entries.push(this.entry(now, '(other addresses)', this.overflow.count, this.overflow.reason));
      this.overflow = { count: 0, reason: '', first: 0 };
    }
    if (entries.length > 0) await this.write(entries).catch(() => undefined);
  }

  /** Stops the timer and writes what is pending: every orderly exit flushes. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush(true);
  }

  private entry(now: number, client: string, count: number, reason: string): object {
    return { type: 'auth_failed', at: new Date(now).toISOString(), actor: 'anonymous', client, count, reason };
  }
}
