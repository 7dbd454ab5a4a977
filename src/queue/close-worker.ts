import type { Worker } from 'bullmq';

/**
 * Closes a BullMQ worker within a bound. The graceful close lets active jobs finish for `graceMs`;
 * then `onGraceOver` (abort what is running) and `abortedMs` more (default 2 s). BullMQ's close can
 * hang while its blocking connection reconnects (taskforcesh/bullmq#4656), and a second
 * `close(true)` only returns the first, still pending, promise; so the last resort is to
 * disconnect the worker's connections (not awaited past a fifth of `abortedMs`), which would
 * otherwise reconnect forever and keep the process alive after Redis is gone.
 */
export async function closeWorker(
  worker: Pick<Worker, 'close' | 'disconnect'>,
  graceMs: number,
  onGraceOver?: () => void,
  abortedMs = 2000,
): Promise<'closed' | 'forced'> {
  const closing = worker.close().then(
    () => true,
    () => true,
  );
  const within = (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, ms));
    });
    return Promise.race([closing, timeout]).finally(() => clearTimeout(timer));
  };
  if (await within(graceMs)) return 'closed';
  onGraceOver?.();
  const disconnectMs = Math.floor(abortedMs / 5);
  if (await within(abortedMs - disconnectMs)) return 'closed';
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([worker.disconnect().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, disconnectMs)))]);
  clearTimeout(timer);
  return 'forced';
}
