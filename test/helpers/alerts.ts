import { createHash } from 'node:crypto';

/** Builds an Alertmanager v4 notification like the captured ones, for labels the fixtures lack. */
export function notification(alerts: { labels: Record<string, string>; status?: 'firing' | 'resolved'; startsAt?: string; annotations?: Record<string, string>; generatorURL?: string }[]): Record<string, unknown> {
  const built = alerts.map((a) => {
    const labels = Object.fromEntries(Object.entries(a.labels).sort(([x], [y]) => (x < y ? -1 : 1)));
    const status = a.status ?? 'firing';
    return {
      status,
      labels,
      annotations: a.annotations ?? { summary: 'test' },
      startsAt: a.startsAt ?? '2026-11-28T23:03:49.035Z',
      endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-28T23:10:00.000Z',
      generatorURL: a.generatorURL ?? 'http://prometheus:9090/graph',
      fingerprint: createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16),
    };
  });
  return {
    receiver: 'remediator',
    status: built.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts: built,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://vm:9093',
    version: '4',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
  };
}
