/**
 * CPU profile of one receiver's main thread under one scenario:
 *   npx tsx bench/profile.ts remediator|naive new|dup|mix [seconds=5]
 * Warms up, seeds the replay pool when needed, then profiles the load phase with the inspector
 * (main thread only: the load generator runs in its own thread) and prints where the time goes,
 * by function and by area (src/…, node_modules/<package>, node internals, GC). The raw profile is
 * written to $TMPDIR for Chrome DevTools / speedscope.
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchEnv, TOKEN, type ReceiverName } from './setup.js';
import type { LoadMode } from './load-generator.js';

const who = (process.argv[2] ?? 'remediator') as 'remediator' | 'naive';
const mode = (process.argv[3] ?? 'dup') as LoadMode;
const seconds = Number(process.argv[4] ?? 5);
const POOL = { start: 10_000_000, size: 500 };

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)' || fn === '(idle)' || fn === '(program)') return fn;
  if (!url) return '(native/builtin)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `node_modules/${nm[1]}`;
  if (url.startsWith('node:')) return url;
  const m = /\/work\/[^/]+\/(.*)$/.exec(url) ?? /([^/]+\/[^/]+)$/.exec(url);
  return m ? m[1]! : url;
}

async function main(): Promise<void> {
  const env = await startBenchEnv({ logLevel: process.env.BENCH_LOG_LEVEL ?? 'info' });
  const r = env.receivers[who];
  const job = { url: r.url, token: TOKEN, concurrency: 32, pool: POOL, mixNewEvery: 5 };
  await env.loadgen.run({ ...job, mode: 'new', durationMs: 1500, freshStart: 0 });
  if (mode !== 'new') await env.loadgen.run({ ...job, mode: 'seed', durationMs: 0, freshStart: 0 });
  if (who === 'remediator') await env.waitSealed();

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const res = await env.loadgen.run({ ...job, mode, durationMs: seconds * 1000, freshStart: 1_000_000 });
  if (who === 'remediator') await env.waitSealed();
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  session.disconnect();

  const file = join(tmpdir(), `bench-${who}-${mode}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Samples under the inspector session itself (Profiler.stop serialising) are the profiler's own cost.
  const underInspector = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (byId.get(cur)!.callFrame.url === 'node:inspector') return true;
    return false;
  };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fnTotals = new Map<string, number>();
  const areaTotals = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const a = underInspector(id) ? '(profiler)' : area(n.callFrame.url, n.callFrame.functionName);
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${a}:${n.callFrame.lineNumber + 1}`;
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
    areaTotals.set(a, (areaTotals.get(a) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
  const idle = (areaTotals.get('(idle)') ?? 0) + (areaTotals.get('(profiler)') ?? 0);
  console.log(`${who} ${mode}: ${res.ok} requests in ${(res.elapsedMs / 1000).toFixed(1)} s (${((res.ok / res.elapsedMs) * 1000).toFixed(0)} req/s); main thread busy ${(((total - idle) / total) * 100).toFixed(0)} %; busy µs/req ${((total - idle) / res.ok).toFixed(0)}`);
  console.log('\nby area (self time):');
  for (const [k, us] of [...areaTotals].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${pct(us)}  ${(us / res.ok).toFixed(0).padStart(5)} µs/req  ${k}`);
  console.log('\nby function (self time):');
  for (const [k, us] of [...fnTotals].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${pct(us)}  ${k}`);
  console.log(`\nprofile: ${file}`);
  await env.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
