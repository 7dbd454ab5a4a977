import type { AuthFailureSink } from './auth.js';

/**
 * Failed authentications are audited aggregated: at most one entry per client address per
 * minute, carrying the count, so a misconfigured Alertmanager cannot flood the audit log.
 */
export class AuthFailureLog implements AuthFailureSink {
  private readonly pending = new Map<string, { count: number; reason: string; first: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (entries: object[]) => Promise<unknown>,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  failed(client: string, reason: string): void {
    const entry = this.pending.get(client);
    if (entry) {
      entry.count += 1;
      entry.reason = reason;
      return;
    }
    // The first failure of a window is written at once; repeats are summed into the next flush.
    this.pending.set(client, { count: 0, reason, first: this.now() });
    void this.write([{ type: 'auth_failed', at: new Date(this.now()).toISOString(), actor: 'anonymous', client, count: 1, reason }]).catch(() => undefined);
    this.timer ??= setInterval(() => void this.flush(), this.windowMs);
    this.timer.unref();
  }

  async flush(): Promise<void> {
    const now = this.now();
    const entries: object[] = [];
    for (const [client, e] of this.pending) {
      if (now - e.first < this.windowMs) continue;
      if (e.count > 0) entries.push({ type: 'auth_failed', at: new Date(now).toISOString(), actor: 'anonymous', client, count: e.count, reason: e.reason });
      this.pending.delete(client);
    }
    if (entries.length > 0) await this.write(entries).catch(() => undefined);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
