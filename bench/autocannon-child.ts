/**
 * The ingest suite's load generator, in a process of its own (bench/ingest.ts spawns it):
 * autocannon with `connections` keep-alive connections for `durationS`, POSTing Alertmanager
 * notifications of `alerts` alerts (bench/traffic.ts). `unique`: every request a fresh
 * notification (seqs from `freshStart` on); `dup`: every request a replay of the pool (seqs
 * [pool.start, pool.start + pool.size), each delivered once before). Prints one JSON line: what
 * was sent and answered, and autocannon's latency percentiles.
 *
 * Usage: tsx bench/autocannon-child.ts '<json job>'
 */
import autocannon from 'autocannon';
import { notificationBody } from './traffic.js';

export interface CannonJob {
  url: string;
  token: string;
  connections: number;
  durationS: number;
  mode: 'unique' | 'dup';
  alerts: number;
  freshStart: number;
  pool: { start: number; size: number };
}

export interface CannonResult {
  /** Requests whose answer was read (any status). */
  answered: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Fresh notifications sent (unique), whether or not their answer came before the end. */
  freshSent: number;
  /** Fresh notifications answered 200. */
  freshOk: number;
  durationMs: number;
  latency: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

const job = JSON.parse(process.argv[2] ?? '{}') as CannonJob;
let fresh = job.freshStart;
let replay = 0;
let freshOk = 0;
const pool: string[] = [];
for (let i = 0; i < job.pool.size; i++) pool.push(notificationBody(job.pool.start + i, job.alerts));

const started = Date.now();
const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.durationS,
  // One request template, set up anew for each request.
  requests: [
    {
      method: 'POST',
      path: '/api/v1/alerts',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${job.token}` },
      setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
        if (job.mode === 'unique') {
          const seq = fresh++;
          context.fresh = true;
          return { ...req, body: notificationBody(seq, job.alerts) };
        }
        context.fresh = false;
        return { ...req, body: pool[replay++ % pool.length] };
      },
      onResponse: (status: number, _body: string, context: Record<string, unknown>) => {
        if (status === 200 && context.fresh) freshOk += 1;
      },
    },
  ],
});
const out: CannonResult = {
  answered: result.requests.total,
  ok: result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  freshSent: fresh - job.freshStart,
  freshOk,
  durationMs: Date.now() - started,
  latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, p999: result.latency.p99_9, max: result.latency.max, mean: result.latency.average },
};
process.stdout.write(`${JSON.stringify(out)}\n`);
