/** The main-thread side of the load generator: runs LoadJobs in a worker thread (bench/loadgen-worker.ts). */
import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { LoadJob, LoadResult } from './load-generator.js';

export interface LoadGenerator {
  /** Linux thread ids of the worker (those that appeared when it started), to keep its CPU out of the receivers'. */
  readonly threadIds: ReadonlySet<string>;
  run(job: LoadJob): Promise<LoadResult>;
  close(): Promise<void>;
}

const tasks = (): string[] => {
  try {
    return readdirSync('/proc/self/task');
  } catch {
    return [];
  }
};

export async function startLoadGenerator(): Promise<LoadGenerator> {
  const before = new Set(tasks());
  // A worker thread does not inherit tsx's loader, so it registers tsx itself before importing the entry.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./loadgen-worker.ts', import.meta.url).href;
  const worker = new Worker(
    `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`,
    { eval: true },
  );
  let nextId = 0;
  let failure: Error | undefined;
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (msg: { id: number; result?: LoadResult; error?: string }) => {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error !== undefined) p?.reject(new Error(msg.error));
    else p?.resolve(msg.result!);
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`load generator exited (${code})`)));
  await new Promise<void>((resolve, reject) => {
    worker.once('online', () => resolve());
    worker.once('error', reject);
  });
  const threadIds = new Set(tasks().filter((t) => !before.has(t)));
  return {
    threadIds,
    run(job) {
      return new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        const id = nextId++;
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, job });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
