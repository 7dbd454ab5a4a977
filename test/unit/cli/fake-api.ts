/** A fake fetch for the client verbs' unit tests: routes by method and path, records requests. */
export interface FakeRequest {
  method: string;
  host: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

export type FakeRoute = (req: FakeRequest) => { status: number; body?: unknown; text?: string } | Promise<{ status: number; body?: unknown; text?: string }>;

export function fakeFetch(route: FakeRoute): { fetch: typeof fetch; requests: FakeRequest[] } {
  const requests: FakeRequest[] = [];
  const fn = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const req: FakeRequest = {
      method: init.method ?? 'GET',
      host: url.host,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    requests.push(req);
    const res = await route(req);
    const text = res.text ?? (res.body === undefined ? '' : JSON.stringify(res.body));
    return new Response(text, { status: res.status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch: fn as typeof fetch, requests };
}

export const RUN_ID = '3f2a9c1e-1111-4222-8333-444455556666';

export function sampleRun(over: Record<string, unknown> = {}): any {
  return {
    id: RUN_ID,
    status: 'succeeded',
    changed: true,
    dryRun: false,
    reason: 'scaled deployment/ml-serving/llm-api from 2 to 3',
    playbook: 'scale-replicas',
    params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 5 },
    target: 'deployment/ml-serving/llm-api',
    trigger: { source: 'manual', operator: 'alice' },
    steps: [
      {
        action: 'scale',
        object: 'deployment/ml-serving/llm-api',
        request: { method: 'PATCH', path: '/apis/apps/v1/namespaces/ml-serving/deployments/llm-api/scale', dryRun: false },
        result: 'ok',
        before: { replicas: 2 },
        after: { replicas: 3 },
        at: '2026-01-01T03:00:02.000Z',
      },
    ],
    attempts: 1,
    createdAt: '2026-01-01T03:00:00.000Z',
    startedAt: '2026-01-01T03:00:01.000Z',
    finishedAt: '2026-01-01T03:00:03.500Z',
    ...over,
  };
}
