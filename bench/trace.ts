/**
 * Where a webhook request's wall time goes inside Remediator (no profiler): wraps a few methods
 * on their prototypes with timers, drives one receiver-side scenario, prints the mean per request.
 *   npx tsx bench/trace.ts [new|dup|mix] [concurrency=1] [seconds=4]
 */
import { AlertIntake } from '../src/engine/alert-intake.js';
import { RunQueue } from '../src/queue/run-queue.js';
import { TokenAuth } from '../src/http/auth.js';
import { RedisAuditLog } from '../src/audit/redis-audit-log.js';
import { startBenchEnv, TOKEN } from './setup.js';
import type { LoadMode } from './load-generator.js';

const mode = (process.argv[2] ?? 'new') as LoadMode;
const concurrency = Number(process.argv[3] ?? 1);
const seconds = Number(process.argv[4] ?? 4);

const totals = new Map<string, { ms: number; n: number }>();
function wrap(proto: object, name: string, label: string): void {
  const target = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name];
  if (typeof original !== 'function') throw new Error(`${label}: no method ${name}`);
  target[name] = function (this: unknown, ...args: unknown[]) {
    const t = performance.now();
    const add = () => {
      const e = totals.get(label) ?? { ms: 0, n: 0 };
      e.ms += performance.now() - t;
      e.n++;
      totals.set(label, e);
    };
    const out = original.apply(this, args);
    if (out instanceof Promise) return out.finally(add);
    add();
    return out;
  };
}
wrap(AlertIntake.prototype, 'receive', 'intake.receive (total)');
wrap(AlertIntake.prototype, 'plan', 'intake.plan (per alert, sync)');
wrap(AlertIntake.prototype, 'runScript', 'intake.runScript (Lua round trip)');
wrap(RunQueue.prototype, 'enqueue', 'queue.enqueue (addBulk)');
wrap(TokenAuth.prototype, 'identify', 'auth.identify');
wrap(RedisAuditLog.prototype, 'logWritten', 'audit.logWritten (pino lines)');

async function main(): Promise<void> {
  const env = await startBenchEnv({ logLevel: process.env.BENCH_LOG_LEVEL ?? 'info' });
  const r = env.receivers.remediator;
  const job = { url: r.url, token: TOKEN, concurrency, pool: { start: 10_000_000, size: 500 }, mixNewEvery: 5 };
  await env.loadgen.run({ ...job, mode: 'new', durationMs: 1500, freshStart: 0 });
  if (mode !== 'new') await env.loadgen.run({ ...job, mode: 'seed', durationMs: 0, freshStart: 0 });
  await env.waitSealed();
  totals.clear();
  // Redis-side execution time of every command (SLOWLOG at 0 µs), without the network and queueing.
  await env.redis.config('SET', 'slowlog-log-slower-than', '0');
  await env.redis.config('SET', 'slowlog-max-len', '200000');
  await env.redis.slowlog('RESET');
  const res = await env.loadgen.run({ ...job, mode, durationMs: seconds * 1000, freshStart: 1_000_000 });
  const log = (await env.redis.slowlog('GET', -1)) as [number, number, number, string[]][];
  await env.redis.config('SET', 'slowlog-log-slower-than', '10000');
  const sorted = [...res.latencies].sort((a, b) => a - b);
  console.log(`remediator ${mode}, ${concurrency} connection(s): ${res.ok} requests, client p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} ms, mean ${(sorted.reduce((a, b) => a + b, 0) / sorted.length).toFixed(2)} ms`);
  for (const [label, t] of totals) console.log(`  ${label.padEnd(36)} ${(t.ms / res.ok).toFixed(3).padStart(8)} ms/req  (${t.n} calls, ${(t.ms / t.n).toFixed(3)} ms/call)`);
  const scriptNames = new Map<string, string>();
  const byCmd = new Map<string, { us: number; n: number }>();
  for (const [, , us, args] of log) {
    let name = String(args[0]).toLowerCase();
    if (name === 'evalsha' || name === 'eval') {
      const sha = String(args[1]);
      // Name scripts by their first key or argument shape: intake (tag, nowMs, …), BullMQ (keys).
      name = scriptNames.get(sha) ?? `${name} ${sha.slice(0, 8)} (${args[2]} keys, ${args.length - 3} args${String(args[3] ?? '').startsWith('{') ? `, ${String(args[3]).slice(0, 40)}` : ''})`;
      scriptNames.set(sha, name);
    }
    if (name === 'slowlog' || name === 'config' || name === 'info') continue;
    const e = byCmd.get(name) ?? { us: 0, n: 0 };
    e.us += us;
    e.n++;
    byCmd.set(name, e);
  }
  console.log('redis-side execution time (SLOWLOG):');
  for (const [name, e] of [...byCmd].sort((a, b) => b[1].us - a[1].us).slice(0, 12)) {
    console.log(`  ${(e.us / 1000 / res.ok).toFixed(3).padStart(8)} ms/req  ${String(e.n).padStart(7)} calls ${(e.us / e.n).toFixed(0).padStart(6)} µs/call  ${name}`);
  }
  await env.close();
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
