/** The moments a rule's `notify` channels hear about (README "Closing the loop"). */
export const NOTIFICATION_EVENTS = ['awaiting_approval', 'started', 'succeeded', 'failed', 'blocked', 'escalation'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** One notification of one run to some channels; the sender reads the run when it sends. */
export interface NotificationRequest {
  event: NotificationEvent;
  runId: string;
  channels: readonly string[];
  /** What the event adds to the run record: an escalation's reason, a block's guard and detail. */
  detail?: string;
}

/**
 * Hands notifications to their own queue. `notify` never throws and never waits for a channel
 * (nor for long on Redis): a notification never delays or fails a run.
 */
export interface NotificationSink {
  notify(request: NotificationRequest): void;
}

/** For processes and tests without channels. */
export const NO_NOTIFICATIONS: NotificationSink = { notify: () => undefined };
