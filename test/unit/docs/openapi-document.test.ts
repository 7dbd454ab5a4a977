/**
 * The OpenAPI document on its own: well formed, every $ref resolving, every schema made only of
 * keywords the test validator checks, roles and errors on every operation, closed objects where
 * the API is closed — and the validator itself rejecting what it must.
 */
import { describe, expect, it } from 'vitest';
import { openApiDocument, OPERATIONS } from '../../../src/http/openapi.js';
import { validateJson, resolvePointer } from '../../helpers/json-schema.js';
import type { Run } from '../../../src/domain/run.js';

const doc = openApiDocument() as any;
const schemaOf = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const problems = (id: string, value: unknown) => validateJson(schemaOf(id), value, doc);

/** Every value under `node` with its JSON pointer. */
function* walk(node: unknown, pointer = '#'): Generator<[string, unknown]> {
  yield [pointer, node];
  if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) yield* walk(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  }
}

/** A run with every optional field set, as src/domain/run.ts allows it. */
const FULL_RUN: Run = {
  id: 'r1',
  status: 'succeeded',
  changed: true,
  dryRun: false,
  reason: 'scaled',
  playbook: 'scale-replicas',
  params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 6 },
  target: 'deployment/ml-serving/llm-api',
  trigger: {
    source: 'escalation',
    rule: 'scale-slow-llm',
    ruleConfig: { cooldownMs: 1, maxRunsPerHour: 2, onResolved: 'cancel-pending', dryRun: false, verify: { withinMs: 1, intervalMs: 1, silence: true, query: 'up' } },
    alert: { fingerprint: 'f', alertname: 'A', startsAt: '2026-11-28T23:03:49.035+01:00', labels: { a: 'b' }, annotations: { summary: 's' }, generatorURL: 'http://p' },
    operator: 'alice',
    reason: 'why',
    episode: 'e',
  },
  guard: { guard: 'escalated', detail: 'held' },
  approval: { requiredBy: 'escalation', decision: 'approved', by: 'bob', reason: 'ok', at: '2026-01-01T00:00:00.000Z' },
  bypassGuards: true,
  cancelRequested: { by: 'alice', reason: 'stop', at: '2026-01-01T00:00:00.000Z' },
  steps: [
    {
      action: 'scale',
      object: 'deployment/ml-serving/llm-api',
      request: { method: 'PATCH', path: '/apis/apps/v1/namespaces/ml-serving/deployments/llm-api/scale', dryRun: false, body: { spec: { replicas: 3 } } },
      result: 'ok',
      detail: 'd',
      before: { replicas: 2 },
      after: { replicas: 3 },
      at: '2026-01-01T00:00:00.000Z',
      key: 'k',
      intent: { replicas: 3 },
      attempt: 1,
      uncertain: false,
    },
  ],
  precheck: { query: 'up', result: 'pass', detail: '1 sample', at: '2026-01-01T00:00:00.000Z' },
  health: { result: 'healthy', detail: '3/3 available', at: '2026-01-01T00:00:00.000Z' },
  verification: { result: 'not_resolved', detail: 'still firing', at: '2026-01-01T00:00:00.000Z', deadline: '2026-01-01T00:15:00.000Z', query: 'up', checks: 10, silenceId: 's' },
  escalatedFrom: 'r0',
  escalations: ['r2'],
  attempts: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  queuedAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:00.000Z',
};

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with the bearer scheme, and every $ref resolves', () => {
    expect(doc).toMatchObject({ openapi: '3.1.0', jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema' });
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const refs = [...walk(doc)].filter(([p, v]) => p.endsWith('/$ref') && typeof v === 'string').map(([, v]) => v as string);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) expect(() => resolvePointer(doc, ref), ref).not.toThrow();
  });

  it('holds only the fields OpenAPI 3.1 defines (or x- extensions) in operations, parameters, responses and media types', () => {
    const allowed = (what: string, obj: object, keys: string[]) => {
      for (const key of Object.keys(obj)) if (!key.startsWith('x-')) expect(keys, `${what}: ${key}`).toContain(key);
    };
    const responses = [...Object.values<any>(doc.components.responses)];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const name = `${method} ${path}`;
        allowed(name, op, ['tags', 'summary', 'description', 'operationId', 'parameters', 'requestBody', 'responses', 'security']);
        for (const p of op.parameters ?? []) {
          allowed(`${name} parameter`, p, ['name', 'in', 'description', 'required', 'schema']);
          if (p.in === 'path') expect(p.required, `${name} ${p.name}`).toBe(true);
          expect(path.includes(`{${p.name}}`), `${name} ${p.name} is in the path`).toBe(p.in === 'path');
        }
        if (op.requestBody) allowed(`${name} requestBody`, op.requestBody, ['description', 'content', 'required']);
        responses.push(...Object.values<any>(op.responses).filter((r) => !r.$ref));
      }
    }
    for (const r of responses) {
      allowed('response', r, ['description', 'headers', 'content']);
      expect(typeof r.description, 'every response has a description').toBe('string');
      for (const media of Object.values<any>(r.content ?? {})) allowed('media type', media, ['schema', 'example', 'examples', 'encoding']);
      for (const header of Object.values<any>(r.headers ?? {})) allowed('header', header, ['description', 'required', 'schema']);
    }
  });

  it('uses only schema keywords the validator checks (so nothing passes unchecked)', () => {
    for (const [id] of Object.entries(doc.components.schemas)) {
      // Validating anything walks the whole schema; an unknown keyword throws.
      expect(() => validateJson(schemaOf(id), null, doc), id).not.toThrow();
    }
  });

  it('notes a role on every operation; authenticated ones take the bearer scheme and answer 401, 403 and 429', () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        expect(['none', 'alertmanager', 'viewer', 'operator', 'admin'], name).toContain(op['x-required-role']);
        expect(op.description, name).toMatch(/Role: /);
        expect(op.operationId, name).toBeTruthy();
        if (op['x-required-role'] === 'none') {
          expect(op.security, name).toEqual([]);
        } else {
          expect(op.security, name).toEqual([{ bearer: [] }]);
          for (const status of ['401', '403', '429']) expect(op.responses, `${name} ${status}`).toHaveProperty(status);
        }
      }
    }
    expect(new Set(OPERATIONS.map((o) => o.operationId)).size).toBe(OPERATIONS.length);
  });

  it('answers every error with {error, message, details?} (409s with their own fields)', () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const [status, raw] of Object.entries<any>(op.responses)) {
          // A readiness probe's 503 is its report (`{ok: false, checks}`), not an error.
          if (Number(status) < 400 || path === '/readyz') continue;
          const response = raw.$ref ? (resolvePointer(doc, raw.$ref) as any) : raw;
          const schema = response.content?.['application/json']?.schema;
          expect(schema, `${method} ${path} ${status}`).toBeDefined();
          const target = resolvePointer(doc, schema.$ref) as any;
          expect(target.required, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['error', 'message']));
          expect(target.additionalProperties, `${method} ${path} ${status}`).toBe(false);
        }
      }
    }
    expect(problems('Error', { error: 'not_found', message: 'x' })).toEqual([]);
    expect(problems('Error', { error: 'invalid_request', message: 'x', details: [{ path: 'reason', message: 'required' }] })).toEqual([]);
    expect(problems('Error', { error: 'x', message: 'x', guard: 'paused' })).not.toEqual([]);
    expect(problems('BlockedError', { error: 'blocked', message: 'x', guard: 'namespace', runId: 'r' })).toEqual([]);
  });

  it('describes the run of src/domain/run.ts with every optional field, and nothing else', () => {
    expect(problems('Run', FULL_RUN)).toEqual([]);
    expect(problems('Run', { ...FULL_RUN, surprise: 1 })).toEqual([expect.objectContaining({ path: '$.surprise' })]);
    expect(problems('Run', { ...FULL_RUN, trigger: { ...FULL_RUN.trigger, alert: { ...FULL_RUN.trigger.alert, severity: 'x' } } })).not.toEqual([]);
    const { createdAt: _c, ...noCreatedAt } = FULL_RUN;
    expect(problems('Run', noCreatedAt)).toEqual([expect.objectContaining({ message: 'missing required property "createdAt"' })]);
    expect(problems('Run', { ...FULL_RUN, status: 'done' })).not.toEqual([]);
    expect(problems('Run', { ...FULL_RUN, createdAt: 'yesterday' })).not.toEqual([]);
  });

  it('keeps the webhook body lenient (Alertmanager adds fields) and the other request bodies closed', () => {
    const notification = { version: '4', alerts: [{ status: 'firing', labels: { alertname: 'A' }, startsAt: '2026-01-01T00:00:00Z', fingerprint: 'f', newField: 1 }], notification_reason: 'x' };
    expect(problems('WebhookNotification', notification)).toEqual([]);
    expect(problems('WebhookNotification', { receiver: 'x' })).toEqual([expect.objectContaining({ message: 'missing required property "alerts"' })]);
    for (const id of ['RunRequest', 'Reason', 'PauseRequest']) expect(doc.components.schemas[id].additionalProperties, id).toBe(false);
    expect(problems('RunRequest', { playbook: 'p', reason: 'r', params: {}, dryRun: 'yes' })).not.toEqual([]);
  });

  it('describes audit items by type, open to fields a reader does not know', () => {
    const item = { id: '1-0', sealed: true, type: 'operator_action', at: '2026-01-01T00:00:00.000Z', actor: 'alice', action: 'pause', reason: 'x', scope: 'global', later: 1 };
    expect(problems('AuditItem', item)).toEqual([]);
    expect(problems('AuditItem', { ...item, action: 'dance' })).not.toEqual([]);
    expect(problems('AuditItem', { ...item, type: 'mystery' })).not.toEqual([]);
    expect(problems('AuditItem', { ...item, sealed: undefined })).not.toEqual([]);
  });
});

describe('the test validator', () => {
  const root = {};
  it('checks types, required, closed objects, enums, patterns, bounds, anyOf and oneOf', () => {
    const schema = {
      type: 'object',
      properties: { n: { type: 'integer', minimum: 1 }, s: { type: 'string', pattern: '^a' }, e: { enum: ['x'] }, u: { anyOf: [{ type: 'string' }, { type: 'null' }] }, o: { oneOf: [{ const: 1 }, { type: 'integer' }] } },
      required: ['n'],
      additionalProperties: false,
    };
    expect(validateJson(schema, { n: 1, s: 'ab', e: 'x', u: null, o: 2 }, root)).toEqual([]);
    expect(validateJson(schema, {}, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 1.5 }, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 0 }, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 1, s: 'b' }, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 1, e: 'y' }, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 1, u: 3 }, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 1, o: 1 }, root)).toHaveLength(1);
    expect(validateJson(schema, { n: 1, x: 1 }, root)).toHaveLength(1);
    expect(() => validateJson({ type: 'string', uniqueItems: true }, 'a', root)).toThrow(/unsupported/);
  });
});
