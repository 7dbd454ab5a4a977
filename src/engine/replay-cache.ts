import type { Redis } from 'ioredis';

/**
 * What the intake answered a notification whose every alert was firing and started or joined a
 * run (enqueued, awaiting approval, duplicate), so a byte-identical replay (Alertmanager's
 * retries and repeat_interval re-sends) can be answered without parsing, matching or a script.
 */
export interface Replay {
  /** The JSON answer, every decision a `duplicate` of its run, encoded once (UTF-8). */
  answer: Buffer;
  /** Episode keys of its (alert, rule) pairs, and the run each started or joined. */
  episodes: readonly string[];
  runIds: readonly string[];
  /** Decisions counted per rule (`remediator_alert_decisions_total`, decision duplicate). */
  rules: ReadonlyMap<string, number>;
  firing: number;
}

/**
 * The replay cache (issue 18): raw-body digest → the answer it got, bounded by 20,000 entries and
 * about 8 MiB (oldest out first: a 10-minute soak at 50 new notifications/s showed the api's RSS
 * climbing by 80 MiB until the entry bound alone was reached).
 * Only what was answered 200 is remembered (after WAIT when replicas are required). An entry is
 * used only once one MGET shows that every one of its episodes still names the same run in Redis:
 * the episode key is what the full evaluation decides a duplicate by, and it goes away whenever
 * the answer could change: a run blocked at the worker gives its episode back (DESIGN §1), and
 * FLUSHALL, a restart without persistence or a failover to a replica that lacks the last writes
 * lose it. Otherwise the entry is dropped and the notification is evaluated in full. The checks
 * of the requests handled in one turn of the event loop go out as one MGET.
 */
/** Entries' approximate memory at most (answers, episode keys, run ids): a bound in bytes, not only in entries. */
export const REPLAY_CACHE_BYTES = 8 * 1024 * 1024;

/** What an entry holds, roughly: its answer, its strings (UTF-16 in memory) and the Map's overhead. */
function sizeOf(digest: string, replay: Replay): number {
  let chars = digest.length;
  for (const e of replay.episodes) chars += e.length;
  for (const r of replay.runIds) chars += r.length;
  for (const rule of replay.rules.keys()) chars += rule.length;
  return replay.answer.length + 2 * chars + 64 * (replay.episodes.length + 4);
}

export class ReplayCache {
  private readonly entries = new Map<string, Replay>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  /** Checks asked for in this turn of the event loop: sent as one MGET (one write, one reply). */
  private batch: { keys: string[]; resolve: (runs: (string | null)[]) => void; reject: (err: unknown) => void }[] | undefined;

  constructor(
    private readonly redis: Pick<Redis, 'mget'>,
    private readonly episodeKey: (episode: string) => string,
    private readonly max = 20_000,
    private readonly maxBytes = REPLAY_CACHE_BYTES,
  ) {}

  /** Approximate memory the entries hold. */
  get bytesHeld(): number {
    return this.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  peek(digest: string): Replay | undefined {
    return this.entries.get(digest);
  }

  remember(digest: string, replay: Replay): void {
    this.drop(digest);
    const size = sizeOf(digest, replay);
    this.entries.set(digest, replay);
    this.sizes.set(digest, size);
    this.bytes += size;
    // Oldest out first, until both bounds hold.
    while (this.entries.size > this.max || (this.bytes > this.maxBytes && this.entries.size > 1)) this.drop(this.entries.keys().next().value as string);
  }

  private drop(digest: string): void {
    if (!this.entries.delete(digest)) return;
    this.bytes -= this.sizes.get(digest) ?? 0;
    this.sizes.delete(digest);
  }

  /** The entry, if Redis still holds every one of its episodes with the same run; else dropped. */
  async confirmed(digest: string): Promise<Replay | undefined> {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    const runs = await this.mget(entry.episodes.map(this.episodeKey));
    if (runs.every((run, i) => run === entry.runIds[i])) return entry;
    this.drop(digest);
    return undefined;
  }

  private mget(keys: string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      if (this.batch === undefined) {
        this.batch = [];
        setImmediate(() => this.flush());
      }
      this.batch.push({ keys, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.batch ?? [];
    this.batch = undefined;
    this.redis.mget(batch.flatMap((b) => b.keys)).then(
      (runs) => {
        let at = 0;
        for (const b of batch) {
          b.resolve(runs.slice(at, at + b.keys.length));
          at += b.keys.length;
        }
      },
      (err: unknown) => {
        for (const b of batch) b.reject(err);
      },
    );
  }
}
