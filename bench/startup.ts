/**
 * Start-up benchmark (part of `npm run bench`; alone: `npm run bench:startup`): how long the
 * command line takes, compiled (`node bin/remediator.js`, which runs dist/) against the same
 * sources loaded through tsx (`node --import tsx src/main.ts`, what the bin did before the build
 * step), in the same run, interleaved (one run of each variant per round), so machine noise falls
 * on all of them:
 *
 *   --help        spawn → exit (a client verb's fixed cost)
 *   serve ready   spawn → first 200 from /readyz (role all; a throw-away redis-server and the
 *                 simulated cluster, both started once), then SIGTERM (not timed)
 *
 * Variants: compiled; tsx with its transform cache warm (the usual case on a developer machine);
 * tsx without a cache (TSX_DISABLE_CACHE=1: a fresh container, a read-only or emptied /tmp).
 * Each is run once unmeasured first (disk cache, tsx cache), then STARTUP_RUNS times (5): the
 * table gives the median, min, max and every sample. Targets (issue 12; findings, not a failure):
 * compiled --help ≤ 300 ms, compiled serve ready ≤ 1.5 s, both medians.
 *
 * Writes bench/results/startup-latest.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '../test/helpers/redis-server.js';
import { writeServeDir } from '../test/helpers/serve-dir.js';
import { startSimCluster } from '../src/sim/sim-cluster.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.STARTUP_RUNS ?? 5);
const HELP_TARGET_MS = 300;
const READY_TARGET_MS = 1500;

interface Variant {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

const VARIANTS: Variant[] = [
  { name: 'compiled (dist/)', args: ['bin/remediator.js'], env: {} },
  { name: 'tsx, cache warm', args: ['--import', 'tsx', 'src/main.ts'], env: {} },
  { name: 'tsx, no cache', args: ['--import', 'tsx', 'src/main.ts'], env: { TSX_DISABLE_CACHE: '1' } },
];

export interface Stats {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

export interface StartupResult {
  at: string;
  machine: { cores: number; cpu: string; node: string; loadavg1mBefore: number; loadavg1mAfter: number };
  runs: number;
  help: Record<string, Stats>;
  serveReady: Record<string, Stats>;
  targets: { helpMs: number; serveReadyMs: number; helpMet: boolean; serveReadyMet: boolean };
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { medianMs: Math.round(median), minMs: Math.round(sorted[0]!), maxMs: Math.round(sorted.at(-1)!), samplesMs: samples.map(Math.round) };
}

function ensureBuilt(): Promise<void> {
  // dist/ from the current sources (type errors do not matter here; `npm test` checks them).
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/build.mjs', '--if-stale', '--allow-type-errors'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build exited ${code}`))));
  });
}

/** spawn → exit of `<variant> --help`, in ms. */
function timeHelp(v: Variant): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [...v.args, '--help'], { cwd: ROOT, env: { PATH: process.env.PATH, ...v.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${v.name} --help exited ${code}: ${stderr}`));
    });
  });
}

/** spawn → first 200 from /readyz of `<variant> serve`, in ms; then SIGTERM and wait for the exit. */
async function timeServeReady(v: Variant, config: string): Promise<number> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...v.args, 'serve', '--config', config], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'warn', ...v.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  try {
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      if (res?.status === 200) return Number(process.hrtime.bigint() - started) / 1e6;
      await res?.body?.cancel();
      if (exitCode !== undefined) throw new Error(`${v.name} serve exited ${exitCode} before it was ready: ${stderr}`);
      if (Number(process.hrtime.bigint() - started) > 60e9) throw new Error(`${v.name} serve not ready within 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

export async function runStartupBench(): Promise<StartupResult> {
  const loadBefore = loadavg()[0]!;
  process.stderr.write(`startup: building dist/ if stale, then ${RUNS} rounds × ${VARIANTS.length} variants (--help, serve ready)\n`);
  await ensureBuilt();

  const help: Record<string, number[]> = {};
  for (const v of VARIANTS) await timeHelp(v); // warm-up, not counted
  for (let round = 0; round < RUNS; round++) for (const v of VARIANTS) (help[v.name] ??= []).push(await timeHelp(v));

  const redis = await startRedisServer();
  const sim = await startSimCluster({ port: 0 });
  const ready: Record<string, number[]> = {};
  try {
    const { config } = writeServeDir({ simUrl: sim.url, redisUrl: redis.url, prefix: 'bench-startup', amToken: 'bench-startup-am-token-0123456789', shutdownGraceSeconds: 5, prefixDir: 'remediator-bench-startup-' });
    for (const v of VARIANTS) await timeServeReady(v, config); // warm-up, not counted
    for (let round = 0; round < RUNS; round++) for (const v of VARIANTS) (ready[v.name] ??= []).push(await timeServeReady(v, config));
  } finally {
    await sim.close();
    await redis.stop();
  }

  const helpStats = Object.fromEntries(Object.entries(help).map(([k, v]) => [k, stats(v)]));
  const readyStats = Object.fromEntries(Object.entries(ready).map(([k, v]) => [k, stats(v)]));
  const compiled = VARIANTS[0]!.name;
  const result: StartupResult = {
    at: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version, loadavg1mBefore: Number(loadBefore.toFixed(2)), loadavg1mAfter: Number(loadavg()[0]!.toFixed(2)) },
    runs: RUNS,
    help: helpStats,
    serveReady: readyStats,
    targets: {
      helpMs: HELP_TARGET_MS,
      serveReadyMs: READY_TARGET_MS,
      helpMet: helpStats[compiled]!.medianMs <= HELP_TARGET_MS,
      serveReadyMet: readyStats[compiled]!.medianMs <= READY_TARGET_MS,
    },
  };

  const lines: string[] = ['', `Start-up: compiled dist/ vs tsx-loaded sources — ${result.machine.cores} cores (${result.machine.cpu}), Node ${result.machine.node}, ${RUNS} runs each, interleaved`];
  if (Math.max(result.machine.loadavg1mBefore, result.machine.loadavg1mAfter) > result.machine.cores) {
    lines.push(`WARNING: load average ${result.machine.loadavg1mBefore} → ${result.machine.loadavg1mAfter} on ${result.machine.cores} cores: other processes share the CPUs.`);
  }
  const table = (title: string, s: Record<string, Stats>) => {
    lines.push('', `${title.padEnd(20)}${'median ms'.padStart(10)}${'min'.padStart(7)}${'max'.padStart(7)}${'× compiled'.padStart(12)}   samples`);
    for (const v of VARIANTS) {
      const x = s[v.name]!;
      const ratio = x.medianMs / s[compiled]!.medianMs;
      lines.push(`  ${v.name.padEnd(18)}${String(x.medianMs).padStart(10)}${String(x.minMs).padStart(7)}${String(x.maxMs).padStart(7)}${ratio.toFixed(2).padStart(11)}×   ${x.samplesMs.join(' ')}`);
    }
  };
  table('--help (to exit)', helpStats);
  table('serve (to /readyz)', readyStats);
  lines.push(
    '',
    `targets (median, compiled): --help ≤ ${HELP_TARGET_MS} ms ${result.targets.helpMet ? 'met' : 'NOT met'} (${helpStats[compiled]!.medianMs} ms); serve ready ≤ ${READY_TARGET_MS} ms ${result.targets.serveReadyMet ? 'met' : 'NOT met'} (${readyStats[compiled]!.medianMs} ms)`,
  );
  process.stdout.write(lines.join('\n') + '\n');

  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/startup-latest.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runStartupBench().catch((err: unknown) => {
    process.stderr.write(`startup bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
