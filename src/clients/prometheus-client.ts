import { ExternalServiceError, HttpEndpoint, type HttpEndpointConfig } from './http-endpoint.js';

/** One sample of an instant query: its labels and value (a matrix series keeps its last value). */
export interface PromSample {
  metric: Record<string, string>;
  value: string;
}

/** An instant query's answer. `empty` is what prechecks and verifications decide on. */
export interface PromQueryResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  samples: PromSample[];
  /** No series: the condition does not hold. A scalar or string result is never empty. */
  empty: boolean;
}

/** The port the engine uses; tests pass small in-memory fakes. */
export interface PromQuerier {
  query(promql: string, signal?: AbortSignal): Promise<PromQueryResult>;
}

interface QueryBody {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/**
 * The Prometheus HTTP query API (`POST /api/v1/query`, form-encoded so long queries fit).
 * A `status: "error"` body or an unexpected shape is an ExternalServiceError like a transport
 * failure: callers treat every error the same way (fail safe).
 */
export class PrometheusClient implements PromQuerier {
  private readonly endpoint: HttpEndpoint;

  constructor(config: HttpEndpointConfig, sleep?: (ms: number) => Promise<void>) {
    this.endpoint = new HttpEndpoint('Prometheus', config, sleep);
  }

  async query(promql: string, signal?: AbortSignal): Promise<PromQueryResult> {
    const body = await this.endpoint.request<QueryBody>({ method: 'POST', path: '/api/v1/query', form: { query: promql } }, signal);
    if (body?.status !== 'success' || !body.data) {
      throw new ExternalServiceError(`Prometheus query failed: ${body?.error ?? 'answer without data'}`, false);
    }
    return toResult(body.data.resultType, body.data.result);
  }
}

function toResult(resultType: string | undefined, result: unknown): PromQueryResult {
  switch (resultType) {
    case 'vector':
    case 'matrix': {
      if (!Array.isArray(result)) break;
      const samples = result.map((entry: { metric?: Record<string, string>; value?: [number, string]; values?: [number, string][] }) => ({
        metric: entry.metric ?? {},
        value: entry.value?.[1] ?? entry.values?.at(-1)?.[1] ?? '',
      }));
      return { resultType, samples, empty: samples.length === 0 };
    }
    case 'scalar':
    case 'string': {
      if (!Array.isArray(result)) break;
      return { resultType, samples: [{ metric: {}, value: String(result[1]) }], empty: false };
    }
  }
  throw new ExternalServiceError(`Prometheus answered a result it does not document (resultType ${JSON.stringify(resultType)})`, false);
}

/** `{node="gpu-node-1"} 91` per sample, for run records and audit entries (bounded). */
export function describeSamples(result: PromQueryResult, max = 5): string {
  if (result.empty) return 'empty result';
  const shown = result.samples.slice(0, max).map((s) => {
    const labels = Object.entries(s.metric)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ');
    return `{${labels}} ${s.value}`;
  });
  const more = result.samples.length > max ? ` and ${result.samples.length - max} more` : '';
  return `${result.samples.length} ${result.samples.length === 1 ? 'sample' : 'samples'}: ${shown.join('; ')}${more}`;
}
