import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseWebhookPayload, type AlertParse, type Notification } from '../../../src/alertmanager/webhook-payload.js';
import type { Alert } from '../../../src/domain/alert.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/alertmanager/', import.meta.url));

function body(file: string): Record<string, unknown> {
  return (JSON.parse(readFileSync(`${FIXTURES}${file}`, 'utf8')) as { body: Record<string, unknown> }).body;
}

function notificationOf(input: unknown): Notification {
  const result = parseWebhookPayload(input);
  if (!result.ok) throw new Error(`expected a usable envelope, got: ${result.message}`);
  return result.notification;
}

function okAlerts(notification: Notification): Alert[] {
  return notification.alerts.map((parse, i) => {
    if (!parse.ok) throw new Error(`alert ${i} rejected: ${parse.message}`);
    return parse.alert;
  });
}

// What each captured notification holds (from the capture notes), asserted independently of the parser.
const EXPECTED: Record<string, { status: string; alerts: ('firing' | 'resolved')[]; truncated: number; receiver: string }> = {
  'firing-gpu-node-overheating.json': { status: 'firing', alerts: ['firing'], truncated: 0, receiver: 'remediator' },
  'firing-group-with-one-resolved-alert.json': { status: 'firing', alerts: ['firing', 'resolved'], truncated: 0, receiver: 'remediator' },
  'firing-kube-pod-oom-killed.json': { status: 'firing', alerts: ['firing'], truncated: 0, receiver: 'remediator' },
  'firing-llm-high-latency-p95.json': { status: 'firing', alerts: ['firing'], truncated: 0, receiver: 'remediator' },
  'firing-max-alerts-2-truncated.json': { status: 'firing', alerts: ['firing', 'firing'], truncated: 2, receiver: 'remediator-max2' },
  'firing-two-alerts-one-group.json': { status: 'firing', alerts: ['firing', 'firing'], truncated: 0, receiver: 'remediator' },
  'repeat-after-repeat-interval.json': { status: 'firing', alerts: ['firing'], truncated: 0, receiver: 'remediator' },
  'resolved-gpu-node-overheating.json': { status: 'resolved', alerts: ['resolved'], truncated: 0, receiver: 'remediator' },
  'resolved-group-all-alerts.json': { status: 'resolved', alerts: ['resolved'], truncated: 0, receiver: 'remediator' },
  'resolved-kube-pod-oom-killed.json': { status: 'resolved', alerts: ['resolved'], truncated: 0, receiver: 'remediator' },
  'resolved-llm-high-latency-p95.json': { status: 'resolved', alerts: ['resolved'], truncated: 0, receiver: 'remediator' },
  'resolved-max-alerts-2-truncated.json': { status: 'resolved', alerts: ['resolved', 'resolved'], truncated: 2, receiver: 'remediator-max2' },
};

describe('parseWebhookPayload: captured Alertmanager 0.25 notifications', () => {
  it('has an expectation for every fixture file', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s', (file, expected) => {
    const raw = body(file);
    const notification = notificationOf(raw);
    const alerts = okAlerts(notification);

    expect(notification.status).toBe(expected.status);
    expect(notification.receiver).toBe(expected.receiver);
    expect(notification.truncatedAlerts).toBe(expected.truncated);
    expect(notification.groupKey).toBe(raw.groupKey);
    expect(alerts.map((a) => a.status)).toEqual(expected.alerts);

    const rawAlerts = raw.alerts as Record<string, unknown>[];
    alerts.forEach((alert, i) => {
      const source = rawAlerts[i]!;
      expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(alert.fingerprint).toBe(source.fingerprint);
      expect(alert.startsAt).toBe(source.startsAt);
      expect(alert.labels).toEqual(source.labels);
      expect(alert.annotations).toEqual(source.annotations);
      expect(alert.generatorURL).toBe(source.generatorURL);
      if (alert.status === 'firing') {
        expect(source.endsAt).toBe('0001-01-01T00:00:00Z');
        expect(alert.endsAt).toBeUndefined();
      } else {
        expect(alert.endsAt).toBe(source.endsAt);
      }
      // Wire-only fields do not leak into the domain type.
      expect(Object.keys(alert).sort()).toEqual(
        ['annotations', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status', ...(alert.endsAt ? ['endsAt'] : [])].sort(),
      );
    });
  });

  it('keeps timestamps verbatim, with their variable fractional digits', () => {
    const [alert] = okAlerts(notificationOf(body('resolved-group-all-alerts.json')));
    expect(alert!.endsAt).toBe('2026-11-28T23:06:57.14Z');
    expect(alert!.startsAt).toBe('2026-11-28T23:03:49.035Z');
  });

  it('yields the same identity for firing, repeat and resolved deliveries of one alert', () => {
    const firing = okAlerts(notificationOf(body('firing-gpu-node-overheating.json')))[0]!;
    const resolved = okAlerts(notificationOf(body('resolved-gpu-node-overheating.json')))[0]!;
    expect([resolved.fingerprint, resolved.startsAt]).toEqual([firing.fingerprint, firing.startsAt]);
  });

  it('keeps non-ASCII annotation text', () => {
    const [alert] = okAlerts(notificationOf(body('firing-gpu-node-overheating.json')));
    expect(Object.values(alert!.annotations).join(' ')).toContain('°C');
  });
});

describe('parseWebhookPayload: one malformed alert among good ones', () => {
  const good = () => structuredClone(body('firing-two-alerts-one-group.json'));

  type Mutation = (alert: Record<string, unknown>) => unknown;
  it.each<[string, Mutation, string, boolean]>([
    ['missing labels', (a) => void delete a.labels, 'labels is missing', true],
    ['labels not an object', (a) => void (a.labels = ['alertname']), 'labels must be an object, got an array', true],
    ['labels with a non-string value', (a) => void ((a.labels as Record<string, unknown>).gpu = 3), 'labels must have string values: "gpu" (number 3)', true],
    ['labels with a null value', (a) => void ((a.labels as Record<string, unknown>).pod = null), 'labels must have string values: "pod" (null)', true],
    ['bad status', (a) => void (a.status = 'pending'), 'status must be "firing" or "resolved", got "pending"', true],
    ['missing status', (a) => void delete a.status, 'status must be "firing" or "resolved", got nothing', true],
    ['bad startsAt', (a) => void (a.startsAt = 'yesterday'), 'startsAt is not an RFC 3339 timestamp: "yesterday"', true],
    ['impossible startsAt date', (a) => void (a.startsAt = '2026-02-30T10:00:00Z'), 'startsAt is not an RFC 3339 timestamp', true],
    ['startsAt without zone', (a) => void (a.startsAt = '2026-11-28T23:03:49.035'), 'startsAt is not an RFC 3339 timestamp', true],
    ['numeric startsAt', (a) => void (a.startsAt = 1764371029), 'startsAt is not an RFC 3339 timestamp: number 1764371029', true],
    ['missing startsAt', (a) => void delete a.startsAt, 'startsAt is missing', true],
    ['bad endsAt', (a) => void (a.endsAt = 'never'), 'endsAt is not an RFC 3339 timestamp', true],
    ['missing fingerprint', (a) => void delete a.fingerprint, 'fingerprint is missing', false],
    ['empty fingerprint', (a) => void (a.fingerprint = ''), 'fingerprint is empty', false],
    ['numeric fingerprint', (a) => void (a.fingerprint = 42), 'fingerprint must be a string, got number 42', false],
    ['annotations with a non-string value', (a) => void (a.annotations = { summary: { text: 'x' } }), 'annotations must have string values', true],
    ['generatorURL not a string', (a) => void (a.generatorURL = 7), 'generatorURL must be a string', true],
  ])('%s', (_name, mutate, message, keepsFingerprint) => {
    const raw = good();
    const alerts = raw.alerts as Record<string, unknown>[];
    const fingerprint = alerts[1]!.fingerprint;
    mutate(alerts[1]!);

    const notification = notificationOf(raw);
    expect(notification.alerts).toHaveLength(2);
    expect(notification.alerts[0]).toMatchObject({ ok: true, alert: { fingerprint: alerts[0]!.fingerprint, status: 'firing' } });
    const bad = notification.alerts[1] as Extract<AlertParse, { ok: false }>;
    expect(bad.ok).toBe(false);
    expect(bad.index).toBe(1);
    expect(bad.message).toContain(message);
    if (keepsFingerprint) expect(bad.fingerprint).toBe(fingerprint);
    else expect(bad.fingerprint).toBeUndefined();
  });

  it('reports an alert that is not an object, and every problem of one alert together', () => {
    const raw = good();
    const alerts = raw.alerts as unknown[];
    alerts.splice(1, 0, 'not an alert', { status: 'firing', labels: { a: 1 }, startsAt: 'x' });
    const [first, second, third, fourth] = notificationOf(raw).alerts;
    expect(first!.ok).toBe(true);
    expect(second).toEqual({ ok: false, index: 1, message: 'alert must be an object, got "not an alert"' });
    expect(third).toMatchObject({ ok: false, index: 2 });
    const message = (third as { message: string }).message;
    for (const part of ['fingerprint is missing', 'labels must have string values', 'startsAt is not an RFC 3339 timestamp']) {
      expect(message).toContain(part);
    }
    expect(fourth!.ok).toBe(true);
  });
});

describe('parseWebhookPayload: envelope', () => {
  it.each<[string, unknown, string]>([
    ['a string', 'alerts', 'payload must be a JSON object, got "alerts"'],
    ['an array', [{ status: 'firing' }], 'payload must be a JSON object, got an array'],
    ['null', null, 'payload must be a JSON object, got null'],
    ['undefined (no body)', undefined, 'payload must be a JSON object, got nothing'],
    ['a number', 4, 'payload must be a JSON object, got number 4'],
    ['no alerts', { version: '4', status: 'firing' }, 'payload has no "alerts" array'],
    ['alerts not an array', { alerts: { 0: {} } }, 'payload "alerts" must be an array, got an object'],
    ['alerts null', { alerts: null }, 'payload "alerts" must be an array, got null'],
  ])('is unusable when it is %s', (_name, input, message) => {
    expect(parseWebhookPayload(input)).toEqual({ ok: false, message });
  });

  it('accepts an empty alerts array', () => {
    expect(parseWebhookPayload({ alerts: [] })).toEqual({ ok: true, notification: { truncatedAlerts: 0, alerts: [] } });
  });

  it('tolerates unknown fields at both levels (newer Alertmanagers add some)', () => {
    const raw = structuredClone(body('firing-kube-pod-oom-killed.json'));
    raw.notification_reason = 'first notification';
    raw.routeLabels = { team: 'ml' };
    (raw.alerts as Record<string, unknown>[])[0]!.silencedBy = [];
    const notification = notificationOf(raw);
    expect(okAlerts(notification)).toHaveLength(1);
    expect(notification).not.toHaveProperty('notification_reason');
  });

  it('ignores malformed optional envelope fields instead of rejecting the notification', () => {
    const notification = notificationOf({ alerts: [], receiver: 5, status: 'pending', groupKey: {}, truncatedAlerts: -3 });
    expect(notification).toEqual({ truncatedAlerts: 0, alerts: [] });
    expect(notificationOf({ alerts: [], truncatedAlerts: '2' }).truncatedAlerts).toBe(0);
    expect(notificationOf({ alerts: [], truncatedAlerts: 1.5 }).truncatedAlerts).toBe(0);
  });

  it('defaults missing annotations, and leaves an empty generatorURL out', () => {
    const notification = notificationOf({
      alerts: [{ status: 'firing', labels: { alertname: 'A' }, startsAt: '2026-11-28T23:03:49Z', fingerprint: 'abc', generatorURL: '' }],
    });
    expect(okAlerts(notification)[0]).toEqual({
      status: 'firing',
      labels: { alertname: 'A' },
      annotations: {},
      startsAt: '2026-11-28T23:03:49Z',
      fingerprint: 'abc',
    });
  });

  it('keeps a label called __proto__ as a plain label', () => {
    const raw = JSON.parse(
      '{"alerts":[{"status":"firing","labels":{"__proto__":"x","alertname":"A"},"startsAt":"2026-11-28T23:03:49Z","fingerprint":"abc"}]}',
    ) as unknown;
    const labels = okAlerts(notificationOf(raw))[0]!.labels;
    expect(Object.hasOwn(labels, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.keys(labels)).toEqual(['__proto__', 'alertname']);
  });
});
