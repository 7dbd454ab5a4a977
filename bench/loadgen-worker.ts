/** Worker-thread entry of the load generator: one LoadJob in, one LoadResult out, per message. */
import { parentPort } from 'node:worker_threads';
import { runLoad, type LoadJob } from './load-generator.js';

const port = parentPort;
if (!port) throw new Error('bench/loadgen-worker.ts must run in a worker thread');
port.on('message', (msg: { id: number; job: LoadJob }) => {
  runLoad(msg.job).then(
    (result) => port.postMessage({ id: msg.id, result }, [result.latencies.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
