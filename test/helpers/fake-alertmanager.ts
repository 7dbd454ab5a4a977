import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface HeldAlert {
  labels: Record<string, string>;
  endsAt?: string;
}

export interface HeldSilence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  state: 'active' | 'expired';
}

/**
 * Answers like Alertmanager API v2 for what verification uses: `GET /api/v2/alerts` with
 * `filter` matchers (exact `name="value"` only), `POST /api/v2/silences`, `DELETE
 * /api/v2/silence/{id}`. `failNext` makes the next requests answer 500.
 */
export class FakeAlertmanager {
  readonly requests: { method: string; path: string; search: string }[] = [];
  /** The Authorization header of every request (absent ones left out). */
  readonly authorizations: string[] = [];
  readonly alerts: HeldAlert[] = [];
  readonly silences = new Map<string, HeldSilence>();
  failNext = 0;
  private server?: Server;
  url = '';

  fire(labels: Record<string, string>): void {
    this.alerts.push({ labels });
  }

  resolve(labels: Record<string, string>): void {
    for (const a of this.alerts) if (sameLabels(a.labels, labels)) a.endsAt = new Date(Date.now() - 1000).toISOString();
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://am');
    this.requests.push({ method: req.method ?? '', path: url.pathname, search: url.search });
    if (req.headers.authorization) this.authorizations.push(req.headers.authorization);
    let body = '';
    for await (const chunk of req) body += chunk;
    if (this.failNext > 0) {
      this.failNext -= 1;
      return send(res, 500, { code: 500, message: 'injected failure' });
    }
    if (req.method === 'GET' && url.pathname === '/api/v2/alerts') {
      const filters = url.searchParams.getAll('filter').map(parseExact);
      const now = Date.now();
      const found = this.alerts
        .filter((a) => !(a.endsAt && Date.parse(a.endsAt) <= now))
        .filter((a) => filters.every((f) => a.labels[f.name] === f.value))
        .map((a) => ({ labels: a.labels, fingerprint: fingerprint(a.labels), status: { state: 'active', silencedBy: [], inhibitedBy: [] }, annotations: {}, startsAt: new Date().toISOString(), endsAt: new Date(now + 300_000).toISOString() }));
      return send(res, 200, found);
    }
    if (req.method === 'POST' && url.pathname === '/api/v2/silences') {
      const silence = JSON.parse(body) as Omit<HeldSilence, 'id' | 'state'>;
      const id = randomUUID();
      this.silences.set(id, { ...silence, id, state: 'active' });
      return send(res, 200, { silenceID: id });
    }
    const del = /^\/api\/v2\/silence\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && del) {
      const silence = this.silences.get(decodeURIComponent(del[1]!));
      if (!silence) return send(res, 404, { code: 404, message: 'silence not found' });
      silence.state = 'expired';
      return send(res, 200, undefined);
    }
    send(res, 404, { code: 404, message: `no route ${req.method} ${url.pathname}` });
  }
}

/** Test stand-in for Alertmanager's fingerprint: stable per label set. */
export function fingerprint(labels: Record<string, string>): string {
  const text = Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function parseExact(filter: string): { name: string; value: string } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(filter);
  if (!m) throw new Error(`unsupported filter ${filter}`);
  return { name: m[1]!, value: m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}
