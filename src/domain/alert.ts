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

/** Reference to an alert kept on a run record: its identity and its own words. */
export interface AlertRef {
  fingerprint: string;
  alertname: string;
  startsAt: string;
  labels: Record<string, string>;
  /** `summary`, `description`, `runbook_url`…, as the alert rule wrote them (absent on older runs). */
  annotations?: Record<string, string>;
  /** The Prometheus graph that fired it. */
  generatorURL?: string;
}
