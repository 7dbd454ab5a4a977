import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditKeys } from '../../src/audit/audit-keys.js';
import { RedisAuditLog } from '../../src/audit/redis-audit-log.js';
import type { NotificationConfig } from '../../src/config/loaded-config.js';
import type { Run } from '../../src/domain/run.js';
import { NOTIFICATION_EVENTS, type NotificationRequest } from '../../src/engine/notification-sink.js';
import { RedisKeys } from '../../src/engine/redis-keys.js';
import type { SlackMessage } from '../../src/notify/slack-message.js';
import { Metrics } from '../../src/observability/metrics.js';
import { NotificationQueue, NotificationWorker } from '../../src/queue/notification-queue.js';
import { NotificationReceiver } from '../helpers/notification-receiver.js';
import { DETAILS, runFor } from '../helpers/notification-runs.js';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { pollUntil } from '../helpers/sim-helpers.js';

// Secrets that must never reach a log line, an audit entry or a job's failure record.
const SLACK_SECRET = `XSLACK${randomBytes(8).toString('hex')}`;
const HOOK_SECRET = `hmac-${randomBytes(12).toString('hex')}`;
const FLAKY_SECRET = `hmac-${randomBytes(12).toString('hex')}`;
const LINK_BASE = 'https://remediator.example.internal/ui/#/runs/';

describe('notifications through the notify queue (real Redis, local receiver)', () => {
  let server: RedisServerHandle;
  let receiver: NotificationReceiver;
  let producerRedis: Redis;
  let workerRedis: Redis;
  let auditRedis: Redis;
  let queue: NotificationQueue;
  let worker: NotificationWorker;
  let metrics: Metrics;
  let logger: Logger;
  const lines: string[] = [];
  const runs = new Map<string, Run>();
  const prefix = `n${randomBytes(4).toString('hex')}`;
  const bullPrefix = new RedisKeys(prefix).bullPrefix;
  const slackPath = (name: string) => `/services/T000/${name}/${SLACK_SECRET}`;
  let channels: NotificationConfig[];

  const count = async (channel: string, result: 'ok' | 'error' | 'dead_letter'): Promise<number> =>
    (await metrics.notifications.get()).values.find((v) => v.labels.channel === channel && v.labels.result === result)?.value ?? 0;

  const deadLetters = async (channel: string): Promise<Record<string, unknown>[]> => {
    const rows = await auditRedis.xrange(auditKeys(prefix).stream, '-', '+');
    return rows.map(([, f]) => JSON.parse(f[1]!) as Record<string, unknown>).filter((e) => e.type === 'notification_dead_letter' && e.channel === channel);
  };

  /** Stores a run as it stands at `event` and notifies it; returns the run. */
  const notifyRun = (event: NotificationRequest['event'], channelNames: string[], overrides: Partial<Run> = {}): Run => {
    const run = runFor(event, overrides);
    runs.set(run.id, run);
    const detail = DETAILS[event];
    queue.notify({ event, runId: run.id, channels: channelNames, ...(detail ? { detail } : {}) });
    return run;
  };

  beforeAll(async () => {
    [server, receiver] = await Promise.all([startRedisServer(), NotificationReceiver.start()]);
    const dir = mkdtempSync(join(tmpdir(), 'notify-it-'));
    const slackUrlFile = join(dir, 'slack-url');
    writeFileSync(slackUrlFile, `${receiver.url(slackPath('oncall'))}\n`);
    const hookSecretFile = join(dir, 'hook-secret');
    writeFileSync(hookSecretFile, `${HOOK_SECRET}\n`);
    const closedPort = await freePort();
    const slack = (name: string, extra: Partial<NotificationConfig> = {}): NotificationConfig => ({ name, type: 'slack', url: receiver.url(slackPath(name)), timeoutSeconds: 2, ...extra });
    const hook = (name: string, extra: Partial<NotificationConfig> = {}): NotificationConfig => ({ name, type: 'webhook', url: receiver.url(`/${name}`), secretFile: hookSecretFile, timeoutSeconds: 2, ...extra });
    channels = [
      { name: 'oncall-slack', type: 'slack', urlFile: slackUrlFile, timeoutSeconds: 2 },
      hook('audit-hook'),
      { name: 'flaky-hook', type: 'webhook', urlEnv: 'FLAKY_URL', secretEnv: 'FLAKY_SECRET', timeoutSeconds: 2 },
      hook('bad-hook'),
      slack('down-slack'),
      hook('dup-hook'),
      // Long enough that the fast channel's 20 deliveries land before it even on a loaded machine.
      slack('hang-slack', { timeoutSeconds: 4 }),
      hook('fast-hook'),
      { name: 'refused-slack', type: 'slack', url: `http://127.0.0.1:${closedPort}${slackPath('refused')}`, timeoutSeconds: 2 },
      { name: 'nofile-slack', type: 'slack', urlFile: join(dir, 'no-such-file'), timeoutSeconds: 2 },
    ];
    for (const name of ['audit-hook', 'bad-hook', 'dup-hook', 'fast-hook']) receiver.expectSignature(`/${name}`, HOOK_SECRET);
    receiver.expectSignature('/flaky', FLAKY_SECRET);
    receiver.script('/flaky', [500, 429, 200]);
    receiver.script('/bad-hook', [400]);
    receiver.script(slackPath('down-slack'), [500]);
    receiver.script(slackPath('hang-slack'), ['hang']);

    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
        done();
      },
    });
    logger = pino({ level: 'debug' }, sink);
    metrics = new Metrics({ version: 'test', playbooks: [], rules: [], channels: channels.map((c) => c.name), defaultMetrics: false });
    // As the composition root builds them: a fail-fast command connection for the producer, a blocking one for the worker.
    producerRedis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    workerRedis = new Redis(server.url, { maxRetriesPerRequest: null });
    auditRedis = new Redis(server.url);
    await Promise.all([producerRedis, auditRedis].map((r) => new Promise((resolve) => r.once('ready', resolve))));
    queue = new NotificationQueue(producerRedis, bullPrefix, { logger, backoffMs: 50 });
    worker = new NotificationWorker({
      connection: workerRedis,
      prefix: bullPrefix,
      channels,
      runs: { get: async (id) => runs.get(id) },
      audit: new RedisAuditLog({ redis: auditRedis, prefix, logger }),
      metrics,
      logger,
      runLink: (id) => `${LINK_BASE}${id}`,
      env: { FLAKY_URL: receiver.url('/flaky'), FLAKY_SECRET },
    });
    worker.start();
    await worker.waitUntilReady();
  });

  afterAll(async () => {
    await worker?.close(500);
    await queue?.close();
    await receiver?.close();
    producerRedis?.disconnect();
    workerRedis?.disconnect();
    auditRedis?.disconnect();
    await server?.stop();
  });

  it("each event's notification arrives with its content: Slack blocks, and the signed webhook body", async () => {
    const sent = NOTIFICATION_EVENTS.map((event) => ({ event, run: notifyRun(event, ['oncall-slack', 'audit-hook']) }));
    await pollUntil(() => (receiver.received(slackPath('oncall')).length === 6 && receiver.received('/audit-hook').length === 6 ? true : undefined), 'six deliveries to each channel');

    for (const { event, run } of sent) {
      const link = `${LINK_BASE}${run.id}`;
      const slack = receiver.received(slackPath('oncall')).find((r) => r.body.toString('utf8').includes(run.id))!;
      expect(slack.headers['content-type']).toBe('application/json');
      const message = slack.json as SlackMessage;
      const text = JSON.stringify(message.blocks);
      expect(message.text).toContain(`${run.playbook} on ${run.target} (${run.status})`);
      expect(message.blocks[0]).toMatchObject({ type: 'header' });
      expect(text).toContain('p95 latency of vllm-llama is 3.2s');
      expect(text).toContain('Requests to llm/vllm-llama take longer than 2s at p95 for 5m.');
      expect(text).toContain('<https://runbooks.example.internal/llm/latency|runbook>');
      expect(text).toContain('alertname=LLMHighLatencyP95, namespace=llm, deployment=vllm-llama, severity=warning');
      expect(text).toContain(`<${link}|open the run>`);
      expect(text).toContain(`*Outcome* ${run.status}`);
      if (DETAILS[event]) expect(text).toContain(DETAILS[event]);

      const hook = receiver.received('/audit-hook').find((r) => (r.json as { run: Run }).run.id === run.id)!;
      expect(hook.signatureValid).toBe(true);
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['x-remediator-event']).toBe(event);
      expect(hook.headers['x-remediator-delivery']).toMatch(/^notify-[0-9a-f]{40}$/);
      expect(hook.json).toEqual({ event, run, alert: run.trigger.alert, link, ...(DETAILS[event] ? { detail: DETAILS[event] } : {}) });
      // Compact JSON: the bytes are exactly JSON.stringify of the body (what the signature covers).
      expect(hook.body.toString('utf8')).toBe(JSON.stringify(hook.json));
    }
    expect(await count('oncall-slack', 'ok')).toBe(6);
    expect(await count('audit-hook', 'ok')).toBe(6);
    expect(await count('audit-hook', 'error')).toBe(0);
  });

  it('retries a 500 and a 429 with exponential backoff, then delivers', async () => {
    const run = notifyRun('failed', ['flaky-hook']);
    await pollUntil(async () => ((await count('flaky-hook', 'ok')) === 1 ? true : undefined), 'the third attempt to succeed');
    const got = receiver.received('/flaky');
    expect(got.map((r) => r.reply)).toEqual([500, 429, 200]);
    expect(got.every((r) => r.signatureValid && (r.json as { run: Run }).run.id === run.id)).toBe(true);
    // One notification: the same delivery id and the same signed bytes at every attempt.
    expect(new Set(got.map((r) => r.headers['x-remediator-delivery'])).size).toBe(1);
    expect(new Set(got.map((r) => r.body.toString('base64'))).size).toBe(1);
    // Backoff base 50 ms: about 50 ms, then 100 ms between attempts.
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(45);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(95);
    expect(await count('flaky-hook', 'error')).toBe(2);
    expect(await count('flaky-hook', 'dead_letter')).toBe(0);
    expect(await deadLetters('flaky-hook')).toEqual([]);
  });

  it('a 400 is permanent: dead letter after one attempt', async () => {
    const run = notifyRun('succeeded', ['bad-hook']);
    const [entry] = await pollUntil(async () => ((await deadLetters('bad-hook')).length > 0 ? deadLetters('bad-hook') : undefined), 'the dead letter');
    expect(entry).toMatchObject({
      type: 'notification_dead_letter',
      actor: 'system',
      runId: run.id,
      target: run.target,
      playbook: run.playbook,
      rule: 'scale-on-latency',
      channel: 'bad-hook',
      event: 'succeeded',
      attempts: 1,
      error: 'webhook channel bad-hook: 400 Bad Request',
    });
    expect(receiver.received('/bad-hook')).toHaveLength(1);
    expect(await count('bad-hook', 'error')).toBe(0);
    expect(await count('bad-hook', 'dead_letter')).toBe(1);
  });

  it('a channel failing every time is dead-lettered after the 5th attempt, with the audit entry, the metrics and a warning', async () => {
    const run = notifyRun('escalation', ['down-slack']);
    const [entry] = await pollUntil(async () => ((await deadLetters('down-slack')).length > 0 ? deadLetters('down-slack') : undefined), 'the dead letter');
    expect(entry).toMatchObject({
      runId: run.id,
      target: run.target,
      playbook: run.playbook,
      rule: 'scale-on-latency',
      channel: 'down-slack',
      event: 'escalation',
      attempts: 5,
      error: 'slack channel down-slack: 500 Internal Server Error',
    });
    expect(receiver.received(slackPath('down-slack'))).toHaveLength(5);
    expect(await count('down-slack', 'error')).toBe(4);
    expect(await count('down-slack', 'dead_letter')).toBe(1);
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.channel === 'down-slack' && l.level === 40 && String(l.msg).includes('dead-lettered'));
    expect(warning).toMatchObject({ runId: run.id, event: 'escalation', attempts: 5, error: 'slack channel down-slack: 500 Internal Server Error' });
  });

  it('the same notification enqueued twice (and again after it was sent) is delivered once', async () => {
    const run = runFor('started');
    runs.set(run.id, run);
    const request: NotificationRequest = { event: 'started', runId: run.id, channels: ['dup-hook', 'dup-hook'] };
    queue.notify(request);
    queue.notify(request); // a retried run attempt
    await queue.flush();
    await pollUntil(async () => ((await count('dup-hook', 'ok')) === 1 ? true : undefined), 'the first delivery');
    queue.notify(request);
    await queue.flush();
    // A different notification of the same run on the same channel is its own delivery.
    queue.notify({ ...request, event: 'succeeded' });
    await queue.flush();
    await pollUntil(async () => {
      const c = await queue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return (await count('dup-hook', 'ok')) === 2 && Object.values(c).every((n) => n === 0) ? true : undefined;
    }, 'the queue to be idle');
    const events = receiver.received('/dup-hook').map((r) => (r.json as { event: string }).event);
    expect(events.sort()).toEqual(['started', 'succeeded']);
  });

  it('a channel that hangs delays neither notify() nor the other channels', async () => {
    const durations: number[] = [];
    const fastRuns: string[] = [];
    for (let i = 0; i < 20; i++) {
      const run = runFor('started');
      runs.set(run.id, run);
      fastRuns.push(run.id);
      const t0 = performance.now();
      queue.notify({ event: 'started', runId: run.id, channels: ['hang-slack', 'fast-hook'] });
      durations.push(performance.now() - t0);
    }
    const sorted = [...durations].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const max = sorted[sorted.length - 1]!;
    console.log(`notify() with a hanging channel: median ${median.toFixed(3)} ms, max ${max.toFixed(3)} ms over ${durations.length} calls`);
    expect(max).toBeLessThan(100);

    // Every fast delivery arrives while the hanging channel's requests are still held open.
    const allFast = await pollUntil(() => (receiver.received('/fast-hook').length === 20 ? Date.now() : undefined), 'the fast channel');
    expect(receiver.hangingCount).toBeGreaterThan(0);
    const firstHang = receiver.received(slackPath('hang-slack'))[0]!;
    expect(allFast - firstHang.at).toBeLessThan(4000); // before the hanging attempts' 4 s timeout
    expect(await count('hang-slack', 'error')).toBe(0); // none of them had ended yet
    // The worker records a delivery after the receiver has answered it: wait for the 20th record.
    await pollUntil(async () => ((await count('fast-hook', 'ok')) === 20 ? true : undefined), 'the fast deliveries recorded', 5000);
    console.log(`fast channel: 20 deliveries ${allFast - firstHang.at} ms after the first hanging request began`);

    // The hanging attempts end at their timeout and are retried.
    await pollUntil(async () => ((await count('hang-slack', 'error')) > 0 ? true : undefined), 'a timed-out attempt', 10_000);
    const timedOut = lines.find((l) => l.includes('"channel":"hang-slack"') && l.includes('no answer within 4s'));
    expect(timedOut).toBeDefined();
  });

  it('notify() returns at once and logs a warning when Redis is unreachable', async () => {
    const deadRedis = new Redis(`redis://127.0.0.1:${await freePort()}`, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    deadRedis.on('error', () => undefined);
    const offline = new NotificationQueue(deadRedis, bullPrefix, { logger, deadlineMs: 300 });
    const t0 = performance.now();
    offline.notify({ event: 'failed', runId: 'r-offline', channels: ['audit-hook'] });
    const took = performance.now() - t0;
    console.log(`notify() with Redis down: ${took.toFixed(3)} ms`);
    expect(took).toBeLessThan(100);
    await offline.flush();
    expect(lines.some((l) => l.includes('"runId":"r-offline"') && l.includes('notification not enqueued'))).toBe(true);
    await Promise.race([offline.close(), new Promise((r) => setTimeout(r, 1000))]);
    deadRedis.disconnect();
  });

  it('no log line, audit entry or job failure record holds a channel URL or secret', async () => {
    // Failures whose natural error messages would carry the URL: a refused connection and a missing file.
    notifyRun('failed', ['refused-slack', 'nofile-slack']);
    await pollUntil(async () => ((await count('refused-slack', 'error')) > 0 && (await count('nofile-slack', 'error')) > 0 ? true : undefined), 'the failed attempts');
    expect(lines.some((l) => l.includes('slack channel refused-slack: unreachable (ECONNREFUSED)'))).toBe(true);
    expect(lines.some((l) => l.includes(`slack channel nofile-slack: cannot read urlFile`) && l.includes('(ENOENT)'))).toBe(true);
    // The log has seen 500s, 429s, a 400 whose body echoed the path, timeouts and dead letters.
    expect(lines.length).toBeGreaterThan(50);

    const failed = await queue.queue.getJobs(['failed', 'delayed'], 0, 1000);
    const records = [
      ...lines,
      ...(await auditRedis.xrange(auditKeys(prefix).stream, '-', '+')).map(([, f]) => f.join(' ')),
      ...failed.map((j) => `${j.failedReason ?? ''} ${JSON.stringify(j.stacktrace)}`),
    ];
    expect(failed.length).toBeGreaterThan(0);
    for (const secret of [SLACK_SECRET, HOOK_SECRET, FLAKY_SECRET, '/services/T000', `127.0.0.1:`]) {
      expect(records.filter((r) => r.includes(secret))).toEqual([]);
    }
  });
});
