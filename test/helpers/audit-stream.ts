/** Audit stream helpers for tampering tests: sample entries and a rebuild with crafted content. */
import type { Redis } from 'ioredis';
import type { AuditEntry } from '../../src/audit/audit-entry.js';

export type StreamRow = [id: string, fields: string[]];

/** The i-th of a series of distinct, realistic entries. */
export function sampleAuditEntry(i: number): AuditEntry {
  return { type: 'run_status', at: new Date(1_714_000_000_000 + i * 1000).toISOString(), actor: 'worker', runId: `run-${i}`, target: `node/gpu-${i % 7}`, from: 'queued', to: 'running', reason: `step ${i}` };
}

/** Streams cannot be edited in place: rebuild one with the same (or crafted) ids, atomically. */
export async function rewriteStream(redis: Redis, key: string, change: (rows: StreamRow[]) => StreamRow[]): Promise<void> {
  const rows = (await redis.xrange(key, '-', '+')) as StreamRow[];
  const next = change(rows.map(([id, f]) => [id, [...f]]));
  const multi = redis.multi().del(key);
  for (const [id, fields] of next) multi.xadd(key, id, ...fields);
  await multi.exec();
}
