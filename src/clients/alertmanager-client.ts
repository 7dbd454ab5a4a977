import { ExternalServiceError, HttpEndpoint, type HttpEndpointConfig } from './http-endpoint.js';

/** An alert as Alertmanager holds it now. */
export interface ActiveAlert {
  fingerprint: string;
  labels: Record<string, string>;
  /** active, suppressed (silenced or inhibited) or unprocessed: all of them still firing. */
  state: string;
}

export interface SilenceRequest {
  /** Exact-match matchers: the alert's labels. */
  labels: Record<string, string>;
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

/** The port the engine uses; tests pass small in-memory fakes. */
export interface AlertmanagerApi {
  /** Alerts Alertmanager still considers firing whose labels include all of `labels`. */
  firingAlerts(labels: Record<string, string>, signal?: AbortSignal): Promise<ActiveAlert[]>;
  createSilence(silence: SilenceRequest, signal?: AbortSignal): Promise<string>;
  /** Expires a silence; one already expired or gone counts as done. */
  expireSilence(id: string, signal?: AbortSignal): Promise<void>;
}

interface GettableAlert {
  fingerprint?: string;
  labels?: Record<string, string>;
  endsAt?: string;
  status?: { state?: string };
}

/** Alertmanager API v2. */
export class AlertmanagerClient implements AlertmanagerApi {
  private readonly endpoint: HttpEndpoint;

  constructor(
    config: HttpEndpointConfig,
    sleep?: (ms: number) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {
    this.endpoint = new HttpEndpoint('Alertmanager', config, sleep);
  }

  async firingAlerts(labels: Record<string, string>, signal?: AbortSignal): Promise<ActiveAlert[]> {
    const filter = Object.entries(labels).map(([name, value]) => `${name}=${quoteMatcherValue(value)}`);
    const alerts = await this.endpoint.request<GettableAlert[]>(
      // Silenced, inhibited and unprocessed alerts still fire: only their notifications are held.
      { method: 'GET', path: '/api/v2/alerts', query: { active: 'true', silenced: 'true', inhibited: 'true', unprocessed: 'true', filter } },
      signal,
    );
    const now = this.now();
    return (Array.isArray(alerts) ? alerts : [])
      .filter((a) => !(a.endsAt && Date.parse(a.endsAt) <= now))
      .map((a) => ({ fingerprint: a.fingerprint ?? '', labels: a.labels ?? {}, state: a.status?.state ?? 'active' }));
  }

  async createSilence(silence: SilenceRequest, signal?: AbortSignal): Promise<string> {
    const body = await this.endpoint.request<{ silenceID?: string }>(
      {
        method: 'POST',
        path: '/api/v2/silences',
        json: {
          matchers: Object.entries(silence.labels).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
          startsAt: silence.startsAt.toISOString(),
          endsAt: silence.endsAt.toISOString(),
          createdBy: silence.createdBy,
          comment: silence.comment,
        },
      },
      signal,
    );
    if (!body?.silenceID) throw new ExternalServiceError('Alertmanager POST /api/v2/silences: answer without a silenceID', false);
    return body.silenceID;
  }

  async expireSilence(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.endpoint.request({ method: 'DELETE', path: `/api/v2/silence/${encodeURIComponent(id)}` }, signal);
    } catch (err) {
      const status = (err as { status?: number }).status;
      // Gone, or expired already (Alertmanager answers an error saying so): nothing left to end.
      if (status === 404 || /already expired/i.test((err as Error).message)) return;
      throw err;
    }
  }
}

/** A matcher value in Alertmanager's syntax: double-quoted, with `\`, `"` and newlines escaped. */
export function quoteMatcherValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
