import { randomUUID } from 'node:crypto';
import type { NotificationEvent } from '../../src/engine/notification-sink.js';
import type { Run } from '../../src/domain/run.js';

/** The run record as it stands when each event is notified. */
export function runFor(event: NotificationEvent, overrides: Partial<Run> = {}): Run {
  const base: Run = {
    id: randomUUID(),
    status: 'running',
    changed: false,
    dryRun: false,
    playbook: 'scale-replicas',
    params: { namespace: 'llm', kind: 'Deployment', name: 'vllm-llama', replicas: 6 },
    target: 'deployment/llm/vllm-llama',
    trigger: {
      source: 'alert',
      rule: 'scale-on-latency',
      episode: 'ep-1',
      alert: {
        fingerprint: 'a3f1c2d4e5b60789',
        alertname: 'LLMHighLatencyP95',
        startsAt: '2026-12-07T10:00:12.345Z',
        labels: { alertname: 'LLMHighLatencyP95', namespace: 'llm', deployment: 'vllm-llama', severity: 'warning' },
        annotations: {
          summary: 'p95 latency of vllm-llama is 3.2s',
          description: 'Requests to llm/vllm-llama take longer than 2s at p95 for 5m.',
          runbook_url: 'https://runbooks.example.internal/llm/latency',
        },
        generatorURL: 'http://prometheus:9090/graph?g0.expr=llm_request_latency&g0.tab=1',
      },
    },
    steps: [],
    attempts: 1,
    createdAt: '2026-12-07T10:00:13.000Z',
    startedAt: '2026-12-07T10:00:14.000Z',
  };
  const step = (result: 'ok' | 'error') => ({
    action: 'scale',
    object: 'deployment/llm/vllm-llama',
    request: { method: 'PATCH', path: '/apis/apps/v1/namespaces/llm/deployments/vllm-llama/scale', dryRun: false },
    result,
    at: '2026-12-07T10:00:15.000Z',
  });
  const byEvent: Record<NotificationEvent, Partial<Run>> = {
    awaiting_approval: { status: 'awaiting_approval', approval: { requiredBy: 'rule' }, startedAt: undefined },
    started: { status: 'running' },
    succeeded: {
      status: 'succeeded',
      changed: true,
      reason: 'scaled deployment/llm/vllm-llama from 3 to 6 replicas',
      steps: [step('ok')],
      health: { result: 'healthy', detail: '6/6 replicas available', at: '2026-12-07T10:01:00.000Z' },
      finishedAt: '2026-12-07T10:01:00.000Z',
    },
    failed: {
      status: 'failed',
      reason: 'patch deployments/scale: 403 Forbidden',
      steps: [step('error')],
      finishedAt: '2026-12-07T10:00:16.000Z',
    },
    blocked: {
      status: 'blocked',
      reason: 'blocked by guard cooldown',
      guard: { guard: 'cooldown', detail: 'last run on deployment/llm/vllm-llama 3m ago (cooldown 10m)' },
      startedAt: undefined,
    },
    escalation: {
      status: 'succeeded',
      changed: true,
      reason: 'scaled deployment/llm/vllm-llama from 3 to 6 replicas',
      steps: [step('ok')],
      verification: { result: 'not_resolved', detail: 'LLMHighLatencyP95 still firing after 10m', at: '2026-12-07T10:11:00.000Z', deadline: '2026-12-07T10:11:00.000Z', checks: 10 },
      finishedAt: '2026-12-07T10:01:00.000Z',
    },
  };
  const run = { ...base, ...byEvent[event], ...overrides };
  for (const key of Object.keys(run) as (keyof Run)[]) if (run[key] === undefined) delete run[key];
  return run;
}

/** The detail each event's notification carries in the tests. */
export const DETAILS: Partial<Record<NotificationEvent, string>> = {
  blocked: 'guard cooldown: last run 3m ago',
  escalation: 'verification not_resolved: LLMHighLatencyP95 still firing after 10m',
};
