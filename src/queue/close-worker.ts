import type { Worker } from 'bullmq';

/**
 * Closes a BullMQ worker within a bound. The graceful close lets active jobs finish for `graceMs`;
 * then `onGraceOver` (abort what is running) and two more seconds. BullMQ's close can hang while its
 * blocking connection reconnects (taskforcesh/bullmq#4656), and a second `close(true)` only returns
 * the first, still pending, promise; so the last resort is to disconnect the worker's connections,
 * which would otherwise reconnect forever and keep the process alive after Redis is gone.
 */
export async function closeWorker(worker: Pick<Worker, 'close' | 'disconnect'>, graceMs: number, onGraceOver?: () => void): Promise<'closed' | 'forced'> {
  const closing = worker.close().then(
    () => true,
    () => true,
  );
  const within = (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    return Promise.race([closing, timeout]).finally(() => clearTimeout(timer));
  };
  if (await within(graceMs)) return 'closed';
  onGraceOver?.();
  if (await within(2000)) return 'closed';
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([worker.disconnect().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
  clearTimeout(timer);
  return 'forced';
}
