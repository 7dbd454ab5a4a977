/**
 * `npm run bench`: first the start-up benchmark (bench/startup.ts: compiled CLI vs tsx-loaded
 * sources, `--help` and serve ready), then Remediator's webhook path (POST /api/v1/alerts →
 * AlertIntake: one Lua script per notification, one addBulk for new runs) against the naive Express + BullMQ receiver of
 * bench/naive-receiver.ts: same process, same Redis, same rules, same traffic, interleaved
 * segments (R N N R, repeated), so machine noise falls on both. Prints a table with the ratios
 * remediator/naive, checks that every new episode became exactly one job, and writes
 * bench/results/latest.json. See bench/README.md.
 *
 * Env: BENCH_SEGMENT_SECONDS (1.25), BENCH_ROUNDS (4; a round is R N N R), BENCH_CONCURRENCY (32),
 * BENCH_POOL (500 notifications replayed), BENCH_LOG_LEVEL (info, as in production; to /dev/null),
 * BENCH_SCENARIOS (a,b,c), BENCH_SUITES (startup,webhook,inbox,replicas).
 *
 * Suite `inbox` (issue 13): the cost of the alert inbox, Remediator with it on vs off
 * (`RemediatorOptions.inbox: false`, a benchmark baseline only), two receivers on one Redis,
 * segments on off off on per round, the same scenarios; ratios on/off per round and their median.
 * Writes bench/results/inbox-latest.json.
 *
 * Suite `replicas` (issue 16): the cost of `redis.minReplicasAcked: 1` against 0, the same A/B
 * shape, on a Redis with one replica. Writes bench/results/replicas-latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import type { Redis } from 'ioredis';
import { startBenchEnv, TOKEN, type BenchEnv, type PairNames, type Receiver, type ReceiverName } from './setup.js';
import { ALERTS_PER_NOTIFICATION } from './traffic.js';
import type { LoadMode, LoadResult } from './load-generator.js';

const SEGMENT_MS = Number(process.env.BENCH_SEGMENT_SECONDS ?? 1.25) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARMUP_MS = 1500;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const POOL = { start: 10_000_000, size: Number(process.env.BENCH_POOL ?? 500) };
const MIX_NEW_EVERY = 5; // 80 % duplicates
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
/** Subset of scenarios to run, e.g. `a,c` (default all); (b) and (c) still seed the replay pool. */
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'a,b,c').split(',').map((x) => x.trim()));

interface SegmentResult extends LoadResult {
  serverCpuMs: number;
  redisCpuMs: number;
  sealWaitMs: number;
}

interface Summary {
  requests: number;
  reqPerSec: number;
  alertsPerSec: number;
  segmentsReqPerSec: number[];
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerReq: number;
  redisCpuMsPerReq: number;
  sealerCatchUpMs: number;
  /** Non-200 answers (each retried, as Alertmanager would), by status. */
  failures: Record<string, number>;
  retried: number;
}

interface ScenarioResult {
  scenario: string;
  label: string;
  remediator: Summary;
  naive: Summary;
  ratios: { throughput: number; p50: number; p99: number; serverCpuPerReq: number; redisCpuPerReq: number };
  /** Throughput ratio R/N of each round (R N N R), to show how much the machine's noise moves it. */
  roundThroughputRatios: number[];
}

interface Check {
  phase: string;
  receiver: ReceiverName;
  expectedNewJobs: number;
  newJobs: number;
  failedRequests: number;
  ok: boolean;
}

// CPU of the receivers' main thread (the load generator has its own thread) and of redis-server.
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();
function threadCpuMs(tid: string): number {
  try {
    // /proc/self/task/<tid>/stat: utime and stime (fields 14, 15) in clock ticks; comm may hold spaces.
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return 0; // the thread ended
  }
}
/**
 * CPU of the receivers: every thread of this process (main thread, V8 GC helpers, libuv pool)
 * except the load generator's. Threads that end between two readings lose their share; the main
 * thread and V8's helpers live for the whole run.
 */
function serverCpuMs(exclude: ReadonlySet<string>): number {
  let ms = 0;
  for (const tid of readdirSync('/proc/self/task')) if (!exclude.has(tid)) ms += threadCpuMs(tid);
  return ms;
}
async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_sys') + get('used_cpu_user')) * 1000;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarize(list: SegmentResult[]): Summary {
  const ok = list.reduce((a, s) => a + s.ok, 0);
  const secs = list.reduce((a, s) => a + s.elapsedMs, 0) / 1000;
  const lat = new Float64Array(list.reduce((a, s) => a + s.latencies.length, 0));
  let off = 0;
  for (const s of list) {
    lat.set(s.latencies, off);
    off += s.latencies.length;
  }
  lat.sort();
  const failures: Record<string, number> = {};
  for (const s of list) for (const [k, v] of Object.entries(s.failures)) failures[k] = (failures[k] ?? 0) + v;
  return {
    requests: ok,
    reqPerSec: ok / secs,
    alertsPerSec: (ok * ALERTS_PER_NOTIFICATION) / secs,
    segmentsReqPerSec: list.map((s) => Math.round((s.ok / s.elapsedMs) * 1000)),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    serverCpuMsPerReq: list.reduce((a, s) => a + s.serverCpuMs, 0) / ok,
    redisCpuMsPerReq: list.reduce((a, s) => a + s.redisCpuMs, 0) / ok,
    sealerCatchUpMs: list.reduce((a, s) => a + s.sealWaitMs, 0),
    failures,
    retried: Object.values(failures).reduce((a, b) => a + b, 0),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg();
  const env = await startBenchEnv({ logLevel: LOG_LEVEL });

  const segment = async (r: Receiver, mode: LoadMode, durationMs: number): Promise<SegmentResult> => {
    const cpu0 = serverCpuMs(env.loadgen.threadIds);
    const rcpu0 = await redisCpuMs(env.redis);
    const res = await env.loadgen.run({ url: r.url, token: TOKEN, concurrency: CONCURRENCY, mode, durationMs, freshStart: r.freshNext, pool: POOL, mixNewEvery: MIX_NEW_EVERY });
    if (mode !== 'seed') r.freshNext += res.freshSent;
    // Remediator's audit sealer works in the background of the same thread; its backlog is
    // charged to Remediator's segment (CPU), not left to slow down the naive segment after it.
    const sealWaitMs = r.name === 'remediator' ? await env.waitSealed() : 0;
    return { ...res, serverCpuMs: serverCpuMs(env.loadgen.threadIds) - cpu0, redisCpuMs: (await redisCpuMs(env.redis)) - rcpu0, sealWaitMs };
  };

  const checks: Check[] = [];
  const check = (phase: string, r: Receiver, jobsBefore: number, segs: SegmentResult[]) => checkJobs(checks, phase, r, jobsBefore, segs);
  const single = async (phase: string, r: Receiver, mode: LoadMode, ms: number): Promise<void> => {
    const before = await r.jobCount();
    await check(phase, r, before, [await segment(r, mode, ms)]);
  };

  const results: ScenarioResult[] = [];
  const scenario = async (name: string, label: string, mode: LoadMode): Promise<void> => {
    // Each scenario starts from an empty Redis (both receivers restarted under new prefixes).
    await env.reset();
    const { remediator: R, naive: N } = env.receivers;
    if (mode !== 'new') for (const r of [R, N]) await single(`${name} seed`, r, 'seed', 0);
    const segs: Record<'remediator' | 'naive', SegmentResult[]> = { remediator: [], naive: [] };
    const before = { remediator: await R.jobCount(), naive: await N.jobCount() };
    // R N N R per round: drift (Redis memory growth, JIT, GC, neighbours) falls on both alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of [R, N, N, R]) segs[r.name as 'remediator' | 'naive'].push(await segment(r, mode, SEGMENT_MS));
    }
    await check(name, R, before.remediator, segs.remediator);
    await check(name, N, before.naive, segs.naive);
    const rs = summarize(segs.remediator);
    const ns = summarize(segs.naive);
    const rate = (x: SegmentResult) => x.ok / x.elapsedMs;
    const roundThroughputRatios = Array.from({ length: ROUNDS }, (_, i) => {
      const [r1, r2] = [segs.remediator[2 * i]!, segs.remediator[2 * i + 1]!];
      const [n1, n2] = [segs.naive[2 * i]!, segs.naive[2 * i + 1]!];
      return (rate(r1) + rate(r2)) / (rate(n1) + rate(n2));
    });
    results.push({
      scenario: name,
      label,
      remediator: rs,
      naive: ns,
      ratios: {
        throughput: rs.reqPerSec / ns.reqPerSec,
        p50: rs.p50Ms / ns.p50Ms,
        p99: rs.p99Ms / ns.p99Ms,
        serverCpuPerReq: rs.serverCpuMsPerReq / ns.serverCpuMsPerReq,
        redisCpuPerReq: rs.redisCpuMsPerReq / ns.redisCpuMsPerReq,
      },
      roundThroughputRatios,
    });
    process.stderr.write(`  ${name}: ${rs.reqPerSec.toFixed(0)} vs ${ns.reqPerSec.toFixed(0)} req/s (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  };

  process.stderr.write(`bench: ${CONCURRENCY} connections, ${ROUNDS} × (R N N R) × ${SEGMENT_MS / 1000} s per scenario\n`);
  try {
    await warmUpAndRun([env.receivers.remediator, env.receivers.naive], single, scenario);
  } catch (err) {
    await env.close().catch(() => undefined);
    throw err;
  }

  const machine = await machineAfter(env, loadBefore);

  // ---- report
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const x = (n: number) => `${f(n, 2)}×`;
  const lines: string[] = [''];
  lines.push(`Remediator webhook vs naive Express+BullMQ receiver — ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, Redis ${machine.redis}`);
  lines.push(`${CONCURRENCY} keep-alive connections, closed loop, ${ALERTS_PER_NOTIFICATION} alerts per notification, ${ROUNDS * 2} × ${SEGMENT_MS / 1000} s per receiver per scenario (R N N R)`);
  if (Math.max(machine.loadavg1mBefore, machine.loadavg1mAfter) > machine.cores) {
    lines.push(`WARNING: load average ${machine.loadavg1mBefore} → ${machine.loadavg1mAfter} on ${machine.cores} cores: other processes share the CPUs; absolute figures are low and noisy, ratios less so.`);
  }
  lines.push('');
  lines.push(`${'scenario'.padEnd(14)}${'receiver'.padEnd(12)}${'req/s'.padStart(8)}${'alerts/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'node ms/req'.padStart(13)}${'redis ms/req'.padStart(14)}${'non-200'.padStart(9)}`);
  for (const r of results) {
    for (const who of ['remediator', 'naive'] as const) {
      const s = r[who];
      lines.push(
        `${(who === 'remediator' ? r.scenario : '').padEnd(14)}${who.padEnd(12)}${f(s.reqPerSec).padStart(8)}${f(s.alertsPerSec).padStart(10)}${f(s.p50Ms, 1).padStart(9)}${f(s.p99Ms, 1).padStart(9)}${f(s.serverCpuMsPerReq, 3).padStart(13)}${f(s.redisCpuMsPerReq, 3).padStart(14)}${String(s.retried).padStart(9)}`,
      );
    }
    const q = r.ratios;
    lines.push(`${''.padEnd(14)}${'ratio R/N'.padEnd(12)}${x(q.throughput).padStart(8)}${x(q.throughput).padStart(10)}${x(q.p50).padStart(9)}${x(q.p99).padStart(9)}${x(q.serverCpuPerReq).padStart(13)}${x(q.redisCpuPerReq).padStart(14)}   rounds ${r.roundThroughputRatios.map((v) => f(v, 2)).join(' ')}`);
  }
  lines.push('');
  lines.push('ratio R/N: throughput > 1 = Remediator faster; latency and CPU < 1 = Remediator cheaper. rounds: throughput ratio of each R N N R round.');
  lines.push('non-200: answers other than 200 (503 under overload, …), each retried as Alertmanager would; latency is first attempt to 200.');
  lines.push("node ms/req: CPU of the receivers' threads (main + V8/libuv helpers, not the load generator) per request, Remediator's incl. its audit sealer; redis ms/req: redis-server CPU.");
  lines.push('');
  finishReport(lines, checks, t0, 'latest.json', {
    machine,
    settings: {
      concurrency: CONCURRENCY,
      segmentSeconds: SEGMENT_MS / 1000,
      segmentsPerReceiverPerScenario: ROUNDS * 2,
      alertsPerNotification: ALERTS_PER_NOTIFICATION,
      replayPoolNotifications: POOL.size,
      mixDuplicateShare: 1 - 1 / MIX_NEW_EVERY,
      remediatorLogLevel: LOG_LEVEL,
    },
    scenarios: results,
  });
}

/**
 * The end every suite's report shares: the correctness lines and the total time on stdout, then
 * bench/results/NAME with `fields`; a lost or doubled job fails the benchmark run itself (slower
 * is only a finding).
 */
function finishReport(lines: string[], checks: Check[], t0: number, name: string, fields: Record<string, unknown>): void {
  lines.push(...correctnessLines(checks));
  const allOk = checks.every((c) => c.ok);
  const totalSeconds = Math.round((Date.now() - t0) / 1000);
  lines.push('', `total ${totalSeconds} s`);
  process.stdout.write(lines.join('\n') + '\n');
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const json = { at: new Date().toISOString(), ...fields, correctness: { ok: allOk, checks }, totalSeconds };
  writeFileSync(new URL(`./results/${name}`, import.meta.url), JSON.stringify(json, null, 2) + '\n');
  if (!allOk) process.exitCode = 1;
}

interface AbRound {
  throughput: number;
  p50: number;
  p99: number;
  redisCpuPerReq: number;
  serverCpuPerReq: number;
}

interface AbScenarioResult {
  scenario: string;
  label: string;
  a: Summary;
  b: Summary;
  /** a/b of each round (a b b a): both segments of a receiver in a round pooled. */
  rounds: AbRound[];
  /** The median of the rounds' ratios, and their spread (min, max). */
  median: AbRound;
  min: AbRound;
  max: AbRound;
}

/** Jobs enqueued = new episodes delivered (none lost or doubled), and every notification answered 200 in the end. */
async function checkJobs(checks: Check[], phase: string, r: Receiver, jobsBefore: number, segs: SegmentResult[]): Promise<void> {
  const newJobs = (await r.jobCount()) - jobsBefore;
  const expectedNewJobs = segs.reduce((a, s) => a + s.freshOk, 0) * ALERTS_PER_NOTIFICATION;
  const failedRequests = segs.reduce((a, s) => a + s.gaveUp, 0);
  checks.push({ phase, receiver: r.name, expectedNewJobs, newJobs, failedRequests, ok: newJobs === expectedNewJobs && failedRequests === 0 });
}

function correctnessLines(checks: readonly Check[]): string[] {
  return [
    'correctness (jobs enqueued = new episodes delivered, none lost or doubled; every notification answered 200 in the end):',
    ...checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.phase.padEnd(13)} ${c.receiver.padEnd(11)} jobs +${c.newJobs} / expected +${c.expectedNewJobs}, undelivered notifications ${c.failedRequests}`),
  ];
}

type RunSingle = (phase: string, r: Receiver, mode: LoadMode, ms: number) => Promise<void>;
type RunScenario = (name: string, label: string, mode: LoadMode) => Promise<void>;

/**
 * Warm-up (JIT, connections: fresh traffic and replays, checked but not reported), then the
 * selected scenarios; (b) and (c) first deliver the replay pool once to each receiver.
 */
async function warmUpAndRun(receivers: readonly Receiver[], single: RunSingle, scenario: RunScenario): Promise<void> {
  for (const r of receivers) {
    await single('warm-up', r, 'new', WARMUP_MS / 2);
    await single('warm-up seed', r, 'seed', 0);
    await single('warm-up', r, 'dup', WARMUP_MS / 2);
  }
  if (SCENARIOS.has('a')) await scenario('a-new', 'new alerts: every notification 10 new episodes', 'new');
  if (SCENARIOS.has('b')) await scenario('b-duplicates', 'duplicates: replays of delivered notifications', 'dup');
  if (SCENARIOS.has('c')) await scenario('c-mix', 'mix: 80 % replays, 20 % new notifications', 'mix');
}

/** The machine the figures came from, read as the environment closes (load average before and after). */
async function machineAfter(env: { redis: Redis; close(): Promise<void> }, loadBefore: number[]) {
  const redisVersion = /redis_version:([^\r\n]+)/.exec(await env.redis.info('server'))?.[1] ?? '?';
  await env.close();
  const loadAfter = loadavg();
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? '?',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: redisVersion,
    loadavg1mBefore: Number(loadBefore[0]!.toFixed(2)),
    loadavg1mAfter: Number(loadAfter[0]!.toFixed(2)),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface AbSpec<P extends 'inbox' | 'replicas' | 'matchers'> {
  pair: P;
  /** The receiver whose cost is measured, and the one it is compared with. */
  a: PairNames<P>;
  b: PairNames<P>;
  /** Shown as the column value, e.g. `on` / `off`. */
  aLabel: string;
  bLabel: string;
  title: string;
  /** What the ratio a/b means, for the reader. */
  explain: string;
  file: string;
  /** An extra line per scenario (e.g. the inbox records left), read after the scenario's last segment. */
  after?: (env: BenchEnv<PairNames<P>>, scenario: string) => Promise<string>;
}

/**
 * An A/B suite: two Remediator api processes that differ in one thing, same run, same Redis, same
 * traffic, segments A B B A per round; ratios A/B per round and their median (min, max).
 * Suite `inbox`: the alert inbox on vs off. Suite `replicas`: `redis.minReplicasAcked: 1` vs 0.
 * Suite `matchers`: every rule matcher a regular expression (RE2) vs an equality.
 */
async function abSuite<P extends 'inbox' | 'replicas' | 'matchers'>(spec: AbSpec<P>): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg();
  const env = await startBenchEnv({ logLevel: LOG_LEVEL, pair: spec.pair });

  const segment = async (r: Receiver, mode: LoadMode, durationMs: number): Promise<SegmentResult> => {
    const cpu0 = serverCpuMs(env.loadgen.threadIds);
    const rcpu0 = await redisCpuMs(env.redis);
    const res = await env.loadgen.run({ url: r.url, token: TOKEN, concurrency: CONCURRENCY, mode, durationMs, freshStart: r.freshNext, pool: POOL, mixNewEvery: MIX_NEW_EVERY });
    if (mode !== 'seed') r.freshNext += res.freshSent;
    return { ...res, serverCpuMs: serverCpuMs(env.loadgen.threadIds) - cpu0, redisCpuMs: (await redisCpuMs(env.redis)) - rcpu0, sealWaitMs: 0 };
  };
  const checks: Check[] = [];
  const check = (phase: string, r: Receiver, jobsBefore: number, segs: SegmentResult[]) => checkJobs(checks, phase, r, jobsBefore, segs);
  const single = async (phase: string, r: Receiver, mode: LoadMode, ms: number): Promise<void> => {
    const before = await r.jobCount();
    await check(phase, r, before, [await segment(r, mode, ms)]);
  };
  const ratio = (a: Summary, b: Summary): AbRound => ({
    throughput: a.reqPerSec / b.reqPerSec,
    p50: a.p50Ms / b.p50Ms,
    p99: a.p99Ms / b.p99Ms,
    redisCpuPerReq: a.redisCpuMsPerReq / b.redisCpuMsPerReq,
    serverCpuPerReq: a.serverCpuMsPerReq / b.serverCpuMsPerReq,
  });
  const over = (rounds: AbRound[], agg: (xs: number[]) => number): AbRound => ({
    throughput: agg(rounds.map((r) => r.throughput)),
    p50: agg(rounds.map((r) => r.p50)),
    p99: agg(rounds.map((r) => r.p99)),
    redisCpuPerReq: agg(rounds.map((r) => r.redisCpuPerReq)),
    serverCpuPerReq: agg(rounds.map((r) => r.serverCpuPerReq)),
  });

  const results: AbScenarioResult[] = [];
  const afterLines: string[] = [];
  const scenario = async (name: string, label: string, mode: LoadMode): Promise<void> => {
    await env.reset();
    const a = env.receivers[spec.a];
    const b = env.receivers[spec.b];
    if (mode !== 'new') for (const r of [a, b]) await single(`${name} seed`, r, 'seed', 0);
    const segs = { a: [] as SegmentResult[], b: [] as SegmentResult[] };
    const before = { a: await a.jobCount(), b: await b.jobCount() };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [side, r] of [['a', a], ['b', b], ['b', b], ['a', a]] as const) segs[side].push(await segment(r, mode, SEGMENT_MS));
    }
    await check(name, a, before.a, segs.a);
    await check(name, b, before.b, segs.b);
    if (spec.after) afterLines.push(await spec.after(env, name));
    const rounds = Array.from({ length: ROUNDS }, (_, i) => ratio(summarize(segs.a.slice(2 * i, 2 * i + 2)), summarize(segs.b.slice(2 * i, 2 * i + 2))));
    const aS = summarize(segs.a);
    const bS = summarize(segs.b);
    results.push({ scenario: name, label, a: aS, b: bS, rounds, median: over(rounds, median), min: over(rounds, (xs) => Math.min(...xs)), max: over(rounds, (xs) => Math.max(...xs)) });
    process.stderr.write(`  ${name}: ${spec.aLabel} ${aS.reqPerSec.toFixed(0)} vs ${spec.bLabel} ${bS.reqPerSec.toFixed(0)} req/s (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  };

  const order = `${spec.aLabel} ${spec.bLabel} ${spec.bLabel} ${spec.aLabel}`;
  process.stderr.write(`bench ${spec.pair}: ${CONCURRENCY} connections, ${ROUNDS} × (${order}) × ${SEGMENT_MS / 1000} s per scenario\n`);
  try {
    await warmUpAndRun([env.receivers[spec.a], env.receivers[spec.b]], single, scenario);
  } catch (err) {
    await env.close().catch(() => undefined);
    throw err;
  }
  const machine = await machineAfter(env, loadBefore);

  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const x = (n: number) => `${f(n, 2)}×`;
  const ab = `${spec.aLabel}/${spec.bLabel}`;
  const lines: string[] = [''];
  lines.push(`${spec.title} — ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, Redis ${machine.redis}`);
  lines.push(`${CONCURRENCY} keep-alive connections, closed loop, ${ALERTS_PER_NOTIFICATION} alerts per notification, ${ROUNDS} rounds × (${order}) × ${SEGMENT_MS / 1000} s per scenario`);
  if (Math.max(machine.loadavg1mBefore, machine.loadavg1mAfter) > machine.cores) {
    lines.push(`WARNING: load average ${machine.loadavg1mBefore} → ${machine.loadavg1mAfter} on ${machine.cores} cores: other processes share the CPUs; absolute figures are low and noisy, ratios less so.`);
  }
  lines.push('');
  lines.push(`${'scenario'.padEnd(14)}${spec.pair.padEnd(22)}${'req/s'.padStart(8)}${'alerts/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'node ms/req'.padStart(13)}${'redis ms/req'.padStart(14)}${'non-200'.padStart(9)}`);
  for (const r of results) {
    for (const [who, label] of [['a', spec.aLabel], ['b', spec.bLabel]] as const) {
      const s = r[who];
      lines.push(
        `${(who === 'a' ? r.scenario : '').padEnd(14)}${label.padEnd(22)}${f(s.reqPerSec).padStart(8)}${f(s.alertsPerSec).padStart(10)}${f(s.p50Ms, 1).padStart(9)}${f(s.p99Ms, 1).padStart(9)}${f(s.serverCpuMsPerReq, 3).padStart(13)}${f(s.redisCpuMsPerReq, 3).padStart(14)}${String(s.retried).padStart(9)}`,
      );
    }
    const row = (label: string, q: AbRound) =>
      `${''.padEnd(14)}${label.padEnd(22)}${x(q.throughput).padStart(8)}${x(q.throughput).padStart(10)}${x(q.p50).padStart(9)}${x(q.p99).padStart(9)}${x(q.serverCpuPerReq).padStart(13)}${x(q.redisCpuPerReq).padStart(14)}`;
    lines.push(row(`${ab} median rounds`, r.median));
    lines.push(row('  min', r.min));
    lines.push(row('  max', r.max));
    lines.push(`${''.padEnd(14)}rounds throughput ${r.rounds.map((q) => f(q.throughput, 2)).join(' ')}; redis ms/req ${r.rounds.map((q) => f(q.redisCpuPerReq, 2)).join(' ')}`);
  }
  lines.push('');
  lines.push(`${ab}: ${spec.explain} Median (min, max) of the per-round ratios.`);
  lines.push(...afterLines);
  lines.push('');
  finishReport(lines, checks, t0, spec.file, {
    machine,
    settings: {
      concurrency: CONCURRENCY,
      segmentSeconds: SEGMENT_MS / 1000,
      rounds: ROUNDS,
      order,
      alertsPerNotification: ALERTS_PER_NOTIFICATION,
      replayPoolNotifications: POOL.size,
      mixDuplicateShare: 1 - 1 / MIX_NEW_EVERY,
      remediatorLogLevel: LOG_LEVEL,
    },
    scenarios: results.map(({ a, b, ...rest }) => ({ ...rest, [spec.aLabel]: a, [spec.bLabel]: b })),
  });
}

/**
 * BENCH_SUITES: `startup` (bench/startup.ts, ~1 min), `ingest` (bench/ingest.ts: against the
 * one-addBulk receiver, processes of their own, autocannon), `inbox` (inbox on vs off), `matchers`
 * (regex vs equality matchers), `replicas` (minReplicasAcked 1 vs 0, a primary with one replica),
 * `drain` (bench/drain.ts: drain-gpu-node vs kubectl drain), `soak` (bench/soak.ts, 10 min);
 * default all seven. `webhook` (above, the older in-process comparison with the three-round-trip
 * receiver) and `latency` (bench/first-mutation.ts: alert → first mutation; the simulated cluster
 * is its bottleneck today, see bench/README.md) run only when named.
 */
const SUITES = new Set((process.env.BENCH_SUITES ?? 'startup,drain,ingest,inbox,matchers,replicas,soak').split(',').map((x) => x.trim()));

async function suites(): Promise<void> {
  if (SUITES.has('startup')) {
    const { runStartupBench } = await import('./startup.js');
    await runStartupBench();
  }
  if (SUITES.has('drain')) {
    const { runDrainBench } = await import('./drain.js');
    await runDrainBench();
  }
  if (SUITES.has('latency')) {
    const { runFirstMutationBench } = await import('./first-mutation.js');
    await runFirstMutationBench();
  }
  if (SUITES.has('ingest')) {
    const { runIngestBench } = await import('./ingest.js');
    await runIngestBench();
  }
  if (SUITES.has('webhook')) await main();
  if (SUITES.has('soak')) {
    const { runSoakBench } = await import('./soak.js');
    await runSoakBench();
  }
  if (SUITES.has('inbox')) {
    await abSuite({
      pair: 'inbox',
      a: 'inbox-on',
      b: 'inbox-off',
      aLabel: 'on',
      bLabel: 'off',
      title: 'Remediator webhook, alert inbox on vs off',
      explain: 'throughput < 1 = the inbox costs throughput; latency and CPU > 1 = the inbox costs that much more.',
      file: 'inbox-latest.json',
      after: async (env, scenario) => {
        const records = (prefix: string) => env.redis.zcard(`{${prefix}}:inbox`).catch(() => -1);
        return `inbox records at the end of ${scenario} (on / off): ${await records(env.receivers['inbox-on'].prefix)} / ${await records(env.receivers['inbox-off'].prefix)}`;
      },
    });
  }
  if (SUITES.has('matchers')) {
    await abSuite({
      pair: 'matchers',
      a: 'regex',
      b: 'equality',
      aLabel: 'regex',
      bLabel: 'equality',
      title: 'Remediator webhook, every rule matcher a regular expression (=~, RE2 through re2js) vs an equality (=), deciding the same',
      explain: 'what linear-time regex matching costs the webhook: throughput < 1 and latency > 1 by that much.',
      file: 'matchers-latest.json',
    });
  }
  if (SUITES.has('replicas')) {
    await abSuite({
      pair: 'replicas',
      a: 'acked',
      b: 'unacked',
      aLabel: 'acked',
      bLabel: 'unacked',
      title: 'Remediator webhook, redis.minReplicasAcked 1 (WAIT for one replica) vs 0, a primary with one replica on the same machine',
      explain: 'the cost of answering only once a replica holds the decisions (a fence write and WAIT 1 on a connection of its own, shared by the notifications in flight): throughput < 1 and latency > 1 by that much.',
      file: 'replicas-latest.json',
    });
  }
}

suites().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
