/**
 * A run recorded but never handed to the queue (the process died between the two) is enqueued
 * again by the next notification of its episode, at once, by any api process that did not enqueue
 * it itself; the process that did skips that look (and leaves a lost job to the sweeper).
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startHarness, type Harness } from '../helpers/harness.js';

describe('intake: a queued run without a job', () => {
  let h: Harness;
  let queue: Queue;
  beforeAll(async () => {
    // Two api processes, no worker (jobs stay waiting), and no sweeper in the way for a minute.
    h = await startHarness({ roles: ['api', 'api'], sweepIntervalMs: 60_000 });
    queue = new Queue('jobs', { connection: h.main.redis, prefix: h.main.keys.bullPrefix });
  });
  afterAll(async () => {
    await queue?.close();
    await h?.stop();
  });

  it('is enqueued again by a duplicate reaching a process that did not enqueue it', async () => {
    const [a, b] = h.processes as [Harness['main'], Harness['main']];
    const body = fixture('firing-llm-high-latency-p95').body;
    const first = await h.post(body, { to: a });
    expect(first.body.decisions[0].decision).toBe('enqueued');
    const runId = first.body.decisions[0].runId as string;
    expect(await h.main.redis.exists(h.main.keys.job(runId))).toBe(1);

    // As if the process had died after recording the run and before adding its job.
    await queue.remove(runId);
    expect(await h.main.redis.exists(h.main.keys.job(runId))).toBe(0);

    // The process that enqueued it does not look again.
    const again = await h.post(body, { to: a });
    expect(again.body.decisions[0]).toMatchObject({ decision: 'duplicate', runId });
    expect(await h.main.redis.exists(h.main.keys.job(runId))).toBe(0);

    // Another process does, and adds the job back before it answers.
    const elsewhere = await h.post(body, { to: b });
    expect(elsewhere.body.decisions[0]).toMatchObject({ decision: 'duplicate', runId });
    expect(await h.main.redis.exists(h.main.keys.job(runId))).toBe(1);
    expect((await h.main.runs.get(runId))?.status).toBe('queued');
  });
});
