/**
 * A baseline receiver in a process of its own: `tsx bench/receiver-process.ts addbulk|naive
 * REDIS_URL PREFIX TOKEN`. Prints `listening <url>` on stdout once ready; stops on SIGTERM.
 */
import { startAddBulkReceiver } from './addbulk-receiver.js';
import { startNaiveReceiver } from './naive-receiver.js';
import { NAIVE_RULES } from './rules.js';

const [kind, redisUrl, prefix, token] = process.argv.slice(2);
if (!kind || !redisUrl || !prefix || !token) {
  process.stderr.write('usage: receiver-process.ts addbulk|naive REDIS_URL PREFIX TOKEN\n');
  process.exit(2);
}
const opts = { redisUrl, prefix, rules: NAIVE_RULES, token };
const receiver = kind === 'addbulk' ? await startAddBulkReceiver(opts) : await startNaiveReceiver(opts);
process.stdout.write(`listening ${receiver.url}\n`);
process.once('SIGTERM', () => {
  void receiver.close().finally(() => process.exit(0));
});
