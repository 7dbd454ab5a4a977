import type { Alert } from '../domain/alert.js';

/** One element of `alerts`: decoded, or reported on its own so the rest of the notification proceeds. */
export type AlertParse =
  | { ok: true; alert: Alert }
  | { ok: false; index: number; fingerprint?: string; message: string };

/** An Alertmanager webhook notification (protocol version 4), reduced to what Remediator uses. */
export interface Notification {
  receiver?: string;
  status?: 'firing' | 'resolved';
  groupKey?: string;
  /** Alerts Alertmanager dropped for good because of `max_alerts`; this receiver never sees them. */
  truncatedAlerts: number;
  alerts: AlertParse[];
}

export type WebhookPayloadParse = { ok: true; notification: Notification } | { ok: false; message: string };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const MAX_FINGERPRINT_LENGTH = 256;

/**
 * Decodes a webhook body leniently. Only an unusable envelope (not an object, or no `alerts`
 * array) fails as a whole; that is the webhook's 400. Every other problem is confined to the alert
 * it is in, because rejecting a whole notification would also hold back its good alerts and
 * Alertmanager re-sends a 4xx'd notification unchanged anyway. Unknown fields are ignored: newer
 * Alertmanagers add some (`notification_reason`, `routeLabels`).
 */
export function parseWebhookPayload(body: unknown): WebhookPayloadParse {
  if (!isRecord(body)) return { ok: false, message: `payload must be a JSON object, got ${describe(body)}` };
  if (!('alerts' in body)) return { ok: false, message: 'payload has no "alerts" array' };
  if (!Array.isArray(body.alerts)) return { ok: false, message: `payload "alerts" must be an array, got ${describe(body.alerts)}` };

  const notification: Notification = {
    truncatedAlerts: nonNegativeInteger(body.truncatedAlerts),
    alerts: body.alerts.map((element, index) => parseAlert(element, index)),
  };
  if (typeof body.receiver === 'string') notification.receiver = body.receiver;
  if (body.status === 'firing' || body.status === 'resolved') notification.status = body.status;
  if (typeof body.groupKey === 'string') notification.groupKey = body.groupKey;
  return { ok: true, notification };
}

function parseAlert(element: unknown, index: number): AlertParse {
  if (!isRecord(element)) return { ok: false, index, message: `alert must be an object, got ${describe(element)}` };

  const fingerprint =
    typeof element.fingerprint === 'string' && element.fingerprint !== '' && element.fingerprint.length <= MAX_FINGERPRINT_LENGTH
      ? element.fingerprint
      : undefined;
  const problems: string[] = [];

  if (fingerprint === undefined) {
    if (element.fingerprint === undefined) problems.push('fingerprint is missing');
    else if (typeof element.fingerprint !== 'string') problems.push(`fingerprint must be a string, got ${describe(element.fingerprint)}`);
    else if (element.fingerprint === '') problems.push('fingerprint is empty');
    else problems.push(`fingerprint is longer than ${MAX_FINGERPRINT_LENGTH} characters`);
  }

  const status = element.status;
  if (status !== 'firing' && status !== 'resolved') {
    problems.push(`status must be "firing" or "resolved", got ${describe(status)}`);
  }

  const labels = stringMap(element.labels, 'labels', problems, true);
  const annotations = stringMap(element.annotations, 'annotations', problems, false);

  const startsAt = element.startsAt;
  if (startsAt === undefined) problems.push('startsAt is missing');
  else if (typeof startsAt !== 'string' || !isTimestamp(startsAt)) problems.push(`startsAt is not an RFC 3339 timestamp: ${describe(startsAt)}`);

  const endsAt = element.endsAt;
  if (endsAt !== undefined && endsAt !== null && (typeof endsAt !== 'string' || !isTimestamp(endsAt))) {
    problems.push(`endsAt is not an RFC 3339 timestamp: ${describe(endsAt)}`);
  }

  const generatorURL = element.generatorURL;
  if (generatorURL !== undefined && generatorURL !== null && typeof generatorURL !== 'string') {
    problems.push(`generatorURL must be a string, got ${describe(generatorURL)}`);
  }

  if (problems.length > 0) {
    return { ok: false, index, ...(fingerprint === undefined ? {} : { fingerprint }), message: problems.join('; ') };
  }

  const alert: Alert = {
    status: status as Alert['status'],
    labels: labels!,
    annotations: annotations ?? {},
    // Verbatim: Alertmanager trims trailing zeros of the fraction, and the episode key hashes this
    // exact text, so normalising it could split or merge episodes.
    startsAt: startsAt as string,
    fingerprint: fingerprint!,
  };
  // Firing alerts carry Go's zero time ("0001-01-01T00:00:00Z"), which means "not ended".
  if (typeof endsAt === 'string' && !isGoZeroTime(endsAt)) alert.endsAt = endsAt;
  if (typeof generatorURL === 'string' && generatorURL !== '') alert.generatorURL = generatorURL;
  return { ok: true, alert };
}

function stringMap(
  value: unknown,
  field: string,
  problems: string[],
  required: boolean,
): Record<string, string> | undefined {
  if (value === undefined || value === null) {
    if (required) problems.push(`${field} is missing`);
    return undefined;
  }
  if (!isRecord(value)) {
    problems.push(`${field} must be an object, got ${describe(value)}`);
    return undefined;
  }
  let bad: string[] | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v !== 'string') (bad ??= []).push(`${JSON.stringify(key)} (${describe(v)})`);
  }
  if (bad) {
    problems.push(`${field} must have string values: ${bad.join(', ')}`);
    return undefined;
  }
  // A JSON-parsed object holds only own properties (a `__proto__` label stays a label), so it is
  // used as it is: the webhook path copies nothing it does not have to.
  return Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null
    ? (value as Record<string, string>)
    : Object.fromEntries(Object.entries(value as Record<string, string>));
}

function isTimestamp(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return false;
  if (day < 1 || day > daysInMonth(year, month)) return false;
  return !Number.isNaN(Date.parse(text));
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function isGoZeroTime(text: string): boolean {
  return text.startsWith('0001-01-01T');
}

function nonNegativeInteger(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'nothing';
  return `${typeof value} ${String(value)}`;
}
