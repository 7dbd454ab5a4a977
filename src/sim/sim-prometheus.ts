import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A series as the query API returns it. */
export interface SimSample {
  metric: Record<string, string>;
  value: number;
}

/** A fault to answer with instead of the result: an HTTP error (optionally with Retry-After) or no answer at all. */
export type SimPromFault = ({ status: number; retryAfterSeconds?: number } | { hang: true }) & {
  times: number;
  /** Only requests for this query text; any query when absent. */
  query?: string;
};

export interface ReceivedQuery {
  query: string;
  authorization?: string;
}

/**
 * A small stand-in for the Prometheus HTTP query API (`/api/v1/query`, GET or form POST), used by
 * `remediator demo` and the tests. It does not evaluate PromQL: it answers each query text with
 * the samples it was given for exactly that text, and an empty vector otherwise — which is all a
 * precheck or a verification looks at. Answers have the real API's shape, errors included.
 */
export class SimPrometheus {
  readonly received: ReceivedQuery[] = [];
  private readonly results = new Map<string, SimSample[]>();
  private readonly faults: SimPromFault[] = [];
  private readonly hung = new Set<ServerResponse>();
  private server?: Server;
  url = '';

  /** The samples `query` returns from now on (`[]` = the condition does not hold). */
  set(query: string, samples: SimSample[]): void {
    this.results.set(query, samples);
  }

  /** The next matching requests get this fault instead of an answer, `times` times. */
  injectFault(fault: SimPromFault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname !== '/api/v1/query') return send(res, 404, { status: 'error', errorType: 'not_found', error: `no route ${url.pathname}` });
    let body = '';
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(req.method === 'POST' ? body : url.search);
    const query = form.get('query') ?? url.searchParams.get('query');
    this.received.push({ query: query ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const index = this.faults.findIndex((f) => f.query === undefined || f.query === query);
    const fault = index === -1 ? undefined : this.faults[index];
    if (fault) {
      fault.times -= 1;
      if (fault.times <= 0) this.faults.splice(index, 1);
      if ('hang' in fault) {
        this.hung.add(res);
        return;
      }
      if (fault.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
      return send(res, fault.status, { status: 'error', errorType: fault.status === 429 ? 'too_many_requests' : 'internal', error: `injected ${fault.status}` });
    }
    if (!query) return send(res, 400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": missing' });
    const now = Date.now() / 1000;
    const result = (this.results.get(query) ?? []).map((s) => ({ metric: s.metric, value: [now, String(s.value)] }));
    send(res, 200, { status: 'success', data: { resultType: 'vector', result } });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
