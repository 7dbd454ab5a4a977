import { createHmac } from 'node:crypto';
import type { AlertRef } from '../domain/alert.js';
import type { Run } from '../domain/run.js';
import type { NotificationEvent } from '../engine/notification-sink.js';
import type { NotificationInput } from './run-summary.js';

/** Header carrying `sha256=<hex HMAC-SHA256(secret, body bytes)>`. */
export const SIGNATURE_HEADER = 'X-Remediator-Signature';
export const EVENT_HEADER = 'X-Remediator-Event';
/** Same value for every attempt of one notification: receivers can drop a redelivery. */
export const DELIVERY_HEADER = 'X-Remediator-Delivery';

/**
 * The `webhook` body (README "Closing the loop"): the run as `GET /api/v1/runs/{id}` returns it, its alert
 * (null for runs without one) and the run's page. `detail` only when the event has one (an
 * escalation's reason, a block's guard).
 */
export interface WebhookBody {
  event: NotificationEvent;
  run: Run;
  alert: AlertRef | null;
  link: string;
  detail?: string;
}

export function webhookBody(input: NotificationInput): WebhookBody {
  return {
    event: input.event,
    run: input.run,
    alert: input.run.trigger.alert ?? null,
    link: input.link,
    ...(input.detail ? { detail: input.detail } : {}),
  };
}

/** The header value for these exact bytes: `sha256=` and the lowercase hex HMAC-SHA256. */
export function signBody(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
