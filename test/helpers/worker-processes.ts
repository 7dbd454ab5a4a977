/**
 * Processes of the real binary (`remediator serve --role worker|api|all`) for tests that kill one
 * (SIGKILL) and watch another take over, or read everything a process logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './redis-server.js';
import { pollUntil } from './sim-helpers.js';

const BIN = new URL('../../bin/remediator.js', import.meta.url).pathname;

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<void>;
  /** What the process printed on stdout and stderr (its pino log lines). */
  output(): string;
}

export function spawnWorker(configPath: string, logLevel = 'warn'): Promise<WorkerProcess> {
  return spawnServe(configPath, 'worker', logLevel);
}

export async function spawnServe(configPath: string, role: 'worker' | 'api' | 'all', logLevel = 'warn', nodeArgs: readonly string[] = []): Promise<WorkerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--role', role, '--config', configPath], {
    env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: logLevel },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, port, exited, output: () => out };
}

/** Ready = Redis and the (simulated) cluster reachable. */
export function waitWorkerReady(worker: WorkerProcess, timeoutMs = 60_000): Promise<true> {
  return pollUntil(
    async () => ((await fetch(`http://127.0.0.1:${worker.port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined),
    `worker on port ${worker.port} ready`,
    timeoutMs,
  );
}

/** The worker whose pid is in the request's User-Agent (`remediator/V (host; pid N)`). */
export function senderOf(workers: Iterable<WorkerProcess>, userAgent: string | undefined): WorkerProcess | undefined {
  const pid = Number(/pid (\d+)/.exec(userAgent ?? '')?.[1]);
  return [...workers].find((w) => w.child.pid === pid);
}

export async function killHard(worker: WorkerProcess): Promise<void> {
  worker.child.kill('SIGKILL');
  await worker.exited;
}
