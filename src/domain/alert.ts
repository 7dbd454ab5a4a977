/** One alert as the core sees it: decoded from the webhook, with no wire-only fields. */
export interface Alert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339 as Alertmanager sent it; part of the episode identity. */
  startsAt: string;
  /** Undefined for firing alerts (Alertmanager sends Go's zero time). */
  endsAt?: string;
  fingerprint: string;
  generatorURL?: string;
}

/** Reference to an alert kept on a run record. */
export interface AlertRef {
  fingerprint: string;
  alertname: string;
  startsAt: string;
  labels: Record<string, string>;
}
