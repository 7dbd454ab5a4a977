import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ReplicaAckError } from '../../../src/domain/errors.js';
import { ReplicaFence } from '../../../src/redis/replica-fence.js';

/** A connection that records each fence+WAIT it is sent and answers when the test says so. */
function fakeConnection() {
  const sent: { at: number; answer: (acked: number) => void }[] = [];
  let clock = 0;
  const redis = {
    pipeline() {
      const chain = {
        set: () => chain,
        wait: () => chain,
        exec: () =>
          new Promise<[Error | null, unknown][]>((resolve) => {
            sent.push({ at: clock, answer: (acked) => resolve([[null, 'OK'], [null, acked]]) });
          }),
      };
      return chain;
    },
  } as unknown as Redis;
  return { redis, sent, tick: () => ++clock };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('ReplicaFence', () => {
  it('coalesces concurrent callers: one WAIT out, the rest share the next, which is sent after they called', async () => {
    const { redis, sent, tick } = fakeConnection();
    const fence = new ReplicaFence(redis, '{t}:fence', 1, 1000);
    const first = fence.confirm();
    expect(sent).toHaveLength(1);
    tick(); // writes of later callers finish after the first WAIT was sent
    const later = Array.from({ length: 10 }, () => fence.confirm());
    expect(sent).toHaveLength(1);
    sent[0]!.answer(1);
    expect(await first).toBe(1);
    await flush();
    // One more WAIT for all ten, sent after every one of them called.
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at).toBe(1);
    sent[1]!.answer(2);
    expect(await Promise.all(later)).toEqual(Array(10).fill(2));
    // Idle again: the next caller sends its own at once.
    void fence.confirm();
    expect(sent).toHaveLength(3);
  });

  it('a caller never rides on a WAIT sent before it called', async () => {
    const { redis, sent } = fakeConnection();
    const fence = new ReplicaFence(redis, '{t}:fence', 1, 1000);
    const a = fence.confirm();
    const b = fence.confirm();
    expect(a).not.toBe(b);
    sent[0]!.answer(1);
    await a;
    await flush();
    expect(sent).toHaveLength(2);
    sent[1]!.answer(1);
    expect(await b).toBe(1);
  });

  it('require: ReplicaAckError (retryable) when fewer replicas than asked confirm in time', async () => {
    const { redis, sent } = fakeConnection();
    const fence = new ReplicaFence(redis, '{t}:fence', 2, 1000);
    const required = fence.require('the decisions');
    sent[0]!.answer(1);
    const err = await required.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplicaAckError);
    expect((err as ReplicaAckError).retryable).toBe(true);
    expect((err as Error).message).toBe('only 1 of the 2 replicas redis.minReplicasAcked asks for confirmed the decisions within 1000 ms');
  });
});
