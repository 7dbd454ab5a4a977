import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../../../src/domain/errors.js';
import { MAX_RETRY_AFTER_MS, toKubeApiError } from '../../../src/kube/to-kube-api-error.js';
import { runBackoff } from '../../../src/queue/run-queue.js';

describe('runBackoff', () => {
  it('doubles from 2 s, and never retries sooner than the server asked', () => {
    expect([1, 2, 3, 4].map((n) => runBackoff(n))).toEqual([2000, 4000, 8000, 16000]);
    const throttled = new KubeApiError(429, 'TooManyRequests', 'slow down', 'patch', 'deployments/scale', 7000);
    expect(runBackoff(1, 'run-backoff', throttled)).toBe(7000);
    expect(runBackoff(3, 'run-backoff', throttled)).toBe(8000);
    expect(runBackoff(1, 'run-backoff', new Error('other'))).toBe(2000);
  });
});

describe('toKubeApiError: Retry-After', () => {
  const status = (details?: object) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'TooManyRequests', message: 'too many requests', code: 429, ...(details ? { details } : {}) });
  it.each([
    ['a Retry-After header in seconds', { 'Retry-After': '4' }, status(), 4000],
    ['details.retryAfterSeconds without a header', {}, status({ retryAfterSeconds: 3 }), 3000],
    ['an absurd Retry-After, capped', { 'retry-after': '86400' }, status(), MAX_RETRY_AFTER_MS],
    ['none', {}, status(), undefined],
  ])('%s', (_what, headers, body, expected) => {
    const err = toKubeApiError(new k8s.ApiException(429, 'Too Many Requests', body, headers as Record<string, string>), 'patch', 'deployments/scale');
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).retryAfterMs).toBe(expected);
    expect(err.retryable).toBe(true);
  });
});
