import type { Redis } from 'ioredis';
import type { Run, RunStatus } from '../domain/run.js';
import type { RedisKeys } from './redis-keys.js';

/** Moves a run's status only from an expected one, so a concurrent cancel is never overwritten. */
const TRANSITION_SCRIPT = `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
local allowed = cjson.decode(ARGV[1])
local ok = false
for _, s in ipairs(allowed) do if s == st then ok = true end end
if not ok then return st end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'doc', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'finishedAt', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'guard', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('XADD', KEYS[2], '*', 'e', ARGV[7]) end
return 'OK'
`;

/**
 * Run records: a hash per run. `status` (and `reason`, `finishedAt`, `guard`) are separate fields
 * so the intake script can cancel a run without rewriting its JSON document.
 */
export class RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('remediatorTransition', { numberOfKeys: 2, lua: TRANSITION_SCRIPT });
  }

  async get(id: string): Promise<Run | undefined> {
    const h = await this.redis.hgetall(this.keys.run(id));
    return decodeRun(h);
  }

  /** Rewrites the document (steps, attempts…) without touching the status fields. */
  async saveDoc(run: Run): Promise<void> {
    await this.redis.hset(this.keys.run(run.id), 'doc', JSON.stringify(run));
  }

  /**
   * Sets `run.status` to `to` if the stored status is one of `from`; writes the audit entry in the
   * same script. Returns 'OK' or the status that prevented it.
   */
  async transition(run: Run, from: RunStatus[], to: RunStatus, auditEntry?: object): Promise<'OK' | RunStatus | 'missing'> {
    const redis = this.redis as Redis & { remediatorTransition(...args: string[]): Promise<string | null> };
    const doc = { ...run, status: to };
    const result = await redis.remediatorTransition(
      this.keys.run(run.id),
      this.keys.audit,
      JSON.stringify(from),
      to,
      JSON.stringify(doc),
      run.reason ?? '',
      run.finishedAt ?? '',
      run.guard ? JSON.stringify(run.guard) : '',
      auditEntry ? JSON.stringify(auditEntry) : '',
    );
    if (result === 'OK') {
      run.status = to;
      return 'OK';
    }
    return (result ?? 'missing') as RunStatus | 'missing';
  }

  async status(id: string): Promise<RunStatus | undefined> {
    return ((await this.redis.hget(this.keys.run(id), 'status')) ?? undefined) as RunStatus | undefined;
  }

  /** Newest first. */
  async list(opts: { limit: number; before?: number }): Promise<Run[]> {
    const ids = await this.redis.zrevrangebyscore(this.keys.runs, opts.before !== undefined ? `(${opts.before}` : '+inf', '-inf', 'LIMIT', 0, opts.limit);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.run(id));
    const rows = (await pipeline.exec()) ?? [];
    return rows.map(([, h]) => decodeRun(h as Record<string, string>)).filter((r): r is Run => r !== undefined);
  }
}

export function decodeRun(h: Record<string, string>): Run | undefined {
  if (!h.doc) return undefined;
  const run = JSON.parse(h.doc) as Run;
  run.status = h.status as RunStatus;
  if (h.reason) run.reason = h.reason;
  if (h.finishedAt) run.finishedAt = h.finishedAt;
  if (h.guard) run.guard = JSON.parse(h.guard) as Run['guard'];
  return run;
}
