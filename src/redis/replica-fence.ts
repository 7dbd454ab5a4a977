import type { Redis } from 'ioredis';
import { ReplicaAckError } from '../domain/errors.js';

/**
 * `redis.minReplicasAcked`: confirms that replicas hold everything written so far, on any
 * connection. A fence key is written on this connection, then `WAIT min timeout`: the primary
 * replicates in execution order, so a replica that has the fence has every write that finished
 * before the fence was sent (decisions, duplicates another process recorded), whichever connection
 * made it. WAIT blocks only this connection, so the writes themselves never queue behind it.
 *
 * Group commit: callers that arrive while a WAIT is out join the next one, which is sent when it
 * returns (it covers all of them: their writes finished before it was sent). However many
 * notifications are in flight, at most one WAIT is out and one is waiting to go.
 */
export class ReplicaFence {
  private inFlight: Promise<number> | undefined;
  private next: Promise<number> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly fenceKey: string,
    readonly min: number,
    readonly timeoutMs: number,
  ) {}

  /** How many replicas confirmed; at least `min` unless the timeout passed first. */
  confirm(): Promise<number> {
    if (this.next) return this.next;
    if (!this.inFlight) return (this.inFlight = this.send());
    const next = this.inFlight.then(
      () => this.send(),
      () => this.send(),
    );
    this.next = next;
    return next;
  }

  /** ReplicaAckError unless `min` replicas confirmed in time; `then` ends its message (what happens next). */
  async require(what: string, then = ''): Promise<void> {
    const acked = await this.confirm();
    if (acked < this.min) {
      throw new ReplicaAckError(`only ${acked} of the ${this.min} replicas redis.minReplicasAcked asks for confirmed ${what} within ${this.timeoutMs} ms${then}`);
    }
  }

  private send(): Promise<number> {
    // The promise that was `next` becomes the one in flight once its WAIT is sent.
    this.next = undefined;
    const sent = this.redis
      .pipeline()
      .set(this.fenceKey, String(Date.now()))
      .wait(this.min, this.timeoutMs)
      .exec()
      .then((replies) => {
        for (const [err] of replies ?? []) if (err) throw err;
        return Number(replies?.[1]?.[1] ?? 0);
      })
      .finally(() => {
        if (this.inFlight === sent) this.inFlight = undefined;
      });
    this.inFlight = sent;
    return sent;
  }
}
