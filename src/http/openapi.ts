import type { RequestHandler } from 'express';
import { VERSION } from '../version.js';
import type { Role } from './auth.js';
import { componentSchemas } from './openapi-schemas.js';

/*
 * `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every route this server registers.
 * Request and response bodies are the zod-derived schemas of openapi-schemas.ts; the operations
 * (paths, roles, parameters, status codes) are written here, in one table. Tests hold it to the
 * app: test/integration/openapi.test.ts walks the express router (every route described, every
 * description routed) and validates real answers of every route against it.
 */

type Json = Record<string, unknown>;

/** Who may call an operation: a role (and the roles above it), or nobody needs a token. */
export type OperationRole = Role | 'none';

export interface Operation {
  method: 'get' | 'post';
  /** OpenAPI path template (`/api/v1/runs/{id}`). */
  path: string;
  role: OperationRole;
  tag: string;
  operationId: string;
  summary: string;
  description?: string;
  parameters?: Json[];
  requestBody?: Json;
  responses: Record<string, Json>;
}

/** Roles that hold a role's rights (src/http/auth.ts GRANTS). */
const HOLDERS: Record<Role, string> = {
  alertmanager: 'alertmanager',
  viewer: 'viewer, operator or admin',
  operator: 'operator or admin',
  admin: 'admin',
};

const schema = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
const json = (description: string, id: string, extra: Json = {}): Json => ({ description, content: { 'application/json': { schema: schema(id) } }, ...extra });
const response = (id: string): Json => ({ $ref: `#/components/responses/${id}` });
const errorOf = (description: string, id = 'Error'): Json => json(description, id);

const idParam: Json = { name: 'id', in: 'path', required: true, description: 'run ID', schema: { type: 'string' } };
const query = (name: string, description: string, s: Json = { type: 'string' }): Json => ({ name, in: 'query', required: false, description, schema: s });
const sinceText = 'RFC 3339, or a duration back from now (`30s`, `10m`, `24h`, `7d`)';

const jsonBody = (id: string, description?: string): Json => ({
  required: true,
  ...(description ? { description } : {}),
  content: { 'application/json': { schema: schema(id) } },
});

/** Every route the app registers. Authenticated operations also get 401, 403, 429, 500 and 503 (see `describe`). */
export const OPERATIONS: readonly Operation[] = [
  // ---- every process ----
  {
    method: 'get',
    path: '/healthz',
    role: 'none',
    tag: 'process',
    operationId: 'healthz',
    summary: 'Liveness: the process answers',
    responses: { '200': json('alive', 'Healthz') },
  },
  {
    method: 'get',
    path: '/readyz',
    role: 'none',
    tag: 'process',
    operationId: 'readyz',
    summary: 'Readiness: api = Redis reachable; worker = Redis and the Kubernetes API reachable',
    responses: { '200': json('ready', 'Readiness'), '503': json('not ready; `checks` says what failed', 'Readiness') },
  },
  {
    method: 'get',
    path: '/metrics',
    role: 'none',
    tag: 'process',
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format); see docs/metrics.md',
    responses: { '200': { description: 'the metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
  },
  // ---- api ----
  {
    method: 'get',
    path: '/api/v1/openapi.json',
    role: 'none',
    tag: 'meta',
    operationId: 'openapi',
    summary: 'This description (OpenAPI 3.1)',
    responses: { '200': { description: 'the OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
  },
  {
    method: 'post',
    path: '/api/v1/alerts',
    role: 'alertmanager',
    tag: 'alerts',
    operationId: 'receiveAlerts',
    summary: "Alertmanager's webhook receiver",
    description:
      'Answers 200 only once every decision of the notification is durably in Redis; no playbook runs inside the request. 400 only when the envelope is unusable (not JSON, not an object, no `alerts` array): a bad alert inside a good envelope gets its own `invalid_params` decision. 503 within 2 s when Redis is unavailable (Alertmanager retries 5xx). The body limit is `server.bodyLimit`.',
    requestBody: jsonBody('WebhookNotification'),
    responses: {
      '200': json('one decision per alert and rule', 'IntakeResult'),
      '400': response('BadRequest'),
      '413': response('PayloadTooLarge'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/alerts',
    role: 'viewer',
    tag: 'alerts',
    operationId: 'listAlerts',
    summary: 'The alert inbox: one item per episode the webhook saw, newest first',
    description:
      'Every episode (rule, fingerprint, startsAt; rule `none` for unmatched and malformed alerts) the webhook received in the last 7 days, at most 10,000: its decision, rule, run or guard, the reason, times seen and first and last seen, and the alert\'s labels, annotations and `generatorURL`. Repeats update `seen` and `lastSeenAt` within about a second. The cursor stays valid while new alerts arrive.',
    parameters: [
      query('decision', 'only this decision (`unmatched`, `invalid_params`, `blocked`, …)'),
      query('alertname', 'only alerts of this name'),
      query('rule', 'only this rule\'s episodes (`none`: unmatched and malformed alerts)'),
      query('since', `first seen at or after: ${sinceText}`),
      query('limit', 'page size', { type: 'integer', minimum: 1, maximum: 500, default: 50 }),
      query('cursor', 'a previous page\'s `nextCursor`'),
    ],
    responses: { '200': json('a page of the inbox', 'InboxPage'), '400': response('BadRequest') },
  },
  {
    method: 'post',
    path: '/api/v1/alerts/simulate',
    role: 'viewer',
    tag: 'alerts',
    operationId: 'simulateAlerts',
    summary: 'What the webhook would decide for a notification now, writing nothing',
    description:
      'The same body as `POST /api/v1/alerts`. For each alert: the rules tried (and which matcher failed), each matching rule\'s params, target, approval, precheck and verify queries, and each guard\'s verdict from Redis; guards that need the cluster or a worker are `checked at execution`. No run, episode, audit entry or metric is written. 503 when Redis is unavailable.',
    requestBody: jsonBody('WebhookNotification'),
    responses: {
      '200': json('the decisions the notification would get', 'SimulationResult'),
      '400': response('BadRequest'),
      '413': response('PayloadTooLarge'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/playbooks',
    role: 'viewer',
    tag: 'playbooks',
    operationId: 'listPlaybooks',
    summary: 'The registered playbooks with their params as JSON Schema',
    responses: { '200': json('the playbooks', 'PlaybookList') },
  },
  {
    method: 'get',
    path: '/api/v1/status',
    role: 'viewer',
    tag: 'control',
    operationId: 'status',
    summary: 'Version, role, global dry run and what is paused (for banners and scripts)',
    responses: { '200': json('the status', 'ServiceStatus') },
  },
  {
    method: 'post',
    path: '/api/v1/runs',
    role: 'operator',
    tag: 'runs',
    operationId: 'createRun',
    summary: 'Start a manual run of a playbook',
    description:
      "Params are checked against the playbook's schema. Manual runs obey the global guards (pause, namespaces, opt-out, node budget, concurrency, the per-target lock) but not a rule's cooldown, rate or approval; `bypassGuards: true` (admin only) passes cooldowns, rate limits and the node budget. Under `guards.manualApproval` the run waits for another operator's approval.",
    requestBody: jsonBody('RunRequest'),
    responses: {
      '202': json('accepted: queued or awaiting approval', 'RunAccepted'),
      '400': response('BadRequest'),
      '403': errorOf('the token may not do this: a viewer, or bypassGuards without admin'),
      '409': errorOf('a guard blocked it; the blocked run is recorded', 'BlockedError'),
      '413': response('PayloadTooLarge'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/runs',
    role: 'viewer',
    tag: 'runs',
    operationId: 'listRuns',
    summary: 'Runs, newest first, filtered and paged',
    parameters: [
      query('status', `only these statuses, comma-separated`),
      query('playbook', 'only runs of this playbook'),
      query('rule', 'only runs started by this rule'),
      query('target', 'this target, or every target under a prefix (`deployment/ml-serving`)'),
      query('since', `created at or after: ${sinceText}`),
      query('limit', 'page size', { type: 'integer', minimum: 1, maximum: 500, default: 50 }),
      query('cursor', 'a previous page\'s `nextCursor`'),
    ],
    responses: { '200': json('a page of runs', 'RunPage'), '400': response('BadRequest') },
  },
  {
    method: 'get',
    path: '/api/v1/runs/{id}',
    role: 'viewer',
    tag: 'runs',
    operationId: 'getRun',
    summary: 'One run: trigger, guard, approval, steps, precheck, health, verification, escalation links',
    parameters: [idParam],
    responses: { '200': json('the run', 'Run'), '404': response('NotFound') },
  },
  ...(['approve', 'reject', 'cancel'] as const).map(
    (action): Operation => ({
      method: 'post',
      path: `/api/v1/runs/{id}/${action}`,
      role: 'operator',
      tag: 'runs',
      operationId: `${action}Run`,
      summary:
        action === 'approve'
          ? 'Approve a run awaiting approval (never the operator who asked for a manual run)'
          : action === 'reject'
            ? 'Reject a run awaiting approval'
            : 'Cancel a queued or waiting run at once; a running one stops before its next change (within a second)',
      parameters: [idParam],
      requestBody: jsonBody('Reason'),
      responses: {
        '200': json('decided', 'RunDecision'),
        '400': response('BadRequest'),
        '403': errorOf(action === 'approve' ? 'a viewer token, or the operator who asked for this manual run' : 'a viewer token'),
        '404': response('NotFound'),
        '409': errorOf('the run is in another status', 'StatusConflictError'),
        '413': response('PayloadTooLarge'),
      },
    }),
  ),
  {
    method: 'post',
    path: '/api/v1/runs/{id}/ack',
    role: 'operator',
    tag: 'runs',
    operationId: 'ackRun',
    summary: 'Acknowledge an escalation: release the target its rule holds (guard `escalated`)',
    description: 'Works with the id of the run that escalated or of its follow-up.',
    parameters: [idParam],
    requestBody: jsonBody('Reason'),
    responses: {
      '200': json('released', 'AckResult'),
      '400': response('BadRequest'),
      '404': response('NotFound'),
      '409': errorOf('nothing is held for this run', 'NotHeldError'),
      '413': response('PayloadTooLarge'),
    },
  },
  ...(['pause', 'resume'] as const).map(
    (action): Operation => ({
      method: 'post',
      path: `/api/v1/${action}`,
      role: 'admin',
      tag: 'control',
      operationId: action,
      summary: action === 'pause' ? 'Pause automation, globally or for one playbook' : 'Resume automation, globally or for one playbook',
      description:
        action === 'pause'
          ? 'Blocks new alert decisions (guard `paused`) and stops queued runs before they mutate. Persisted in Redis with who and why; audited.'
          : 'After a resume, the next notification of a blocked episode is evaluated again.',
      requestBody: jsonBody('PauseRequest'),
      responses: { '200': json('every paused scope afterwards', 'PauseResult'), '400': response('BadRequest'), '413': response('PayloadTooLarge') },
    }),
  ),
  {
    method: 'get',
    path: '/api/v1/audit',
    role: 'viewer',
    tag: 'audit',
    operationId: 'listAudit',
    summary: 'The audit log: a page newest first, or (NDJSON) a streamed export oldest first',
    description:
      'With `Accept: application/x-ndjson` (or `format=ndjson`) every matching entry streams, oldest first, one item per line, up to the newest entry present when the export began; `limit` and `cursor` do not apply then. Unknown query parameters are a 400.',
    parameters: [
      query('since', `appended at or after: ${sinceText}`),
      query('until', `appended at or before: ${sinceText}`),
      query('type', 'only these entry types, comma-separated (or repeated)'),
      query('actor', 'only by this actor'),
      query('target', 'this target, or every target under a prefix ending at a segment (`node/`, `deployment/ml-serving`); a kube_mutation\'s object matches too'),
      query('playbook', 'only this playbook'),
      query('rule', 'only this rule'),
      query('runId', 'only this run'),
      query('after', 'only entries appended after this stream id (what `audit --follow` polls with)'),
      query('limit', 'page size (JSON only)', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
      query('cursor', "a previous page's `nextCursor` (JSON only)"),
      query('format', 'overrides the Accept header', { type: 'string', enum: ['json', 'ndjson'] }),
    ],
    responses: {
      '200': {
        description: 'a page (JSON), or the export (NDJSON: one AuditItem per line)',
        headers: { 'X-Audit-Order': { description: 'NDJSON only: `oldest-first`', schema: { type: 'string', const: 'oldest-first' } } },
        content: {
          'application/json': { schema: schema('AuditPage') },
          // Each line is one AuditItem: the schema describes a line, not the whole body.
          'application/x-ndjson': { schema: schema('AuditItem'), 'x-ndjson-line': true },
        },
      },
      '400': response('BadRequest'),
    },
  },
  {
    method: 'get',
    path: '/api/v1/audit/verify',
    role: 'viewer',
    tag: 'audit',
    operationId: 'verifyAudit',
    summary: 'Recompute the HMAC chain of the audit log',
    description:
      'Incremental by default: entries before the key-attested checkpoint of the last verify are confirmed unchanged by digest, the seals after it recomputed. One verify at a time per viewer and two per process; over that, 429 with Retry-After: 5.',
    parameters: [
      query('checkpoint', "`ID:SEAL` from the sealer's `audit seal` log line: also proves the newest entries were not removed"),
      query('full', '`true` recomputes every seal', { type: 'string', enum: ['true', 'false'] }),
    ],
    responses: { '200': json('the report (ok false names the first bad entry)', 'AuditChainReport'), '400': response('BadRequest') },
  },
  // ---- the review page ----
  {
    method: 'get',
    path: '/ui',
    role: 'none',
    tag: 'ui',
    operationId: 'uiRedirect',
    summary: 'Redirects to /ui/ (query kept)',
    responses: {
      '301': {
        description: 'to /ui/',
        headers: { Location: { schema: { type: 'string' } } },
        content: { 'text/plain': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } },
      },
    },
  },
  ...(
    [
      ['/ui/', 'uiPage', 'The review page (signs in with a token kept in the tab)', 'text/html'],
      ['/ui/index.html', 'uiIndex', 'The review page, by its file name', 'text/html'],
      ['/ui/app.js', 'uiScript', "The page's script (immutable for a year under `?v=HASH`)", 'text/javascript'],
      ['/ui/style.css', 'uiStyle', "The page's style sheet (immutable for a year under `?v=HASH`)", 'text/css'],
    ] as const
  ).map(
    ([path, operationId, summary, type]): Operation => ({
      method: 'get',
      path,
      role: 'none',
      tag: 'ui',
      operationId,
      summary,
      description: 'Served with a strict Content-Security-Policy and an ETag.',
      responses: {
        '200': { description: 'the file', content: { [type]: { schema: { type: 'string' } } } },
        '304': { description: 'unchanged (If-None-Match matched the ETag)' },
      },
    }),
  ),
];

const COMPONENT_RESPONSES: Record<string, Json> = {
  BadRequest: errorOf('invalid request: `details` lists every problem with its path (body not JSON: `bad_request`)'),
  Unauthorized: {
    ...errorOf('no token, or not a valid one'),
    headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } },
  },
  Forbidden: errorOf("the token's role may not do this"),
  NotFound: errorOf('no such run'),
  PayloadTooLarge: errorOf('the body exceeds the limit (`server.bodyLimit` for the webhook, 256 kB elsewhere)'),
  TooManyRequests: {
    ...errorOf('too many failed authentications from this address this minute (or, for audit/verify, too many verifies running)'),
    headers: { 'Retry-After': { description: 'seconds', schema: { type: 'string' } } },
  },
  Unavailable: errorOf('Redis is unavailable; retry later'),
  Internal: errorOf('an unexpected error (logged)'),
};

function describe(op: Operation): Json {
  const authenticated = op.role !== 'none';
  const responses: Record<string, Json> = { ...op.responses };
  if (authenticated) {
    responses['401'] ??= response('Unauthorized');
    responses['403'] ??= response('Forbidden');
    responses['429'] ??= response('TooManyRequests');
  }
  if (op.path.startsWith('/api/') && op.path !== '/api/v1/openapi.json') {
    responses['500'] ??= response('Internal');
    responses['503'] ??= response('Unavailable');
  }
  const who = op.role === 'none' ? 'Role: none (no token).' : `Role: \`${op.role}\` (tokens of role ${HOLDERS[op.role]}).`;
  const sorted = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: op.description ? `${op.description}\n\n${who}` : who,
    'x-required-role': op.role,
    security: authenticated ? [{ bearer: [] }] : [],
    ...(op.parameters ? { parameters: op.parameters } : {}),
    ...(op.requestBody ? { requestBody: op.requestBody } : {}),
    responses: sorted,
  };
}

let cached: Json | undefined;

/** The OpenAPI 3.1 document (built once per process). */
export function openApiDocument(): Json {
  if (cached) return cached;
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of OPERATIONS) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`operation ${op.method.toUpperCase()} ${op.path} described twice`);
    item[op.method] = describe(op);
  }
  cached = {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Remediator HTTP API',
      version: VERSION,
      description: [
        'Alert-driven, guarded auto-remediation for Kubernetes. JSON over HTTP with `Authorization: Bearer <token>`.',
        '',
        'Roles: `alertmanager` (POST /api/v1/alerts only), `viewer` (read), `operator` (viewer + manual runs, approve, reject, cancel, ack), `admin` (operator + pause/resume + bypassGuards). Each operation names its role in `x-required-role` and in its description.',
        '',
        'Errors are always `{error, message, details?}` with the right status code; 409 answers add the fields of their own schema. Every process also serves /metrics, /healthz and /readyz; a worker-only process serves nothing else.',
      ].join('\n'),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'alerts', description: 'The Alertmanager webhook' },
      { name: 'runs', description: 'Manual runs, listing, approvals, cancellation, escalation acks' },
      { name: 'playbooks', description: 'What can run' },
      { name: 'control', description: 'Pause, resume, status' },
      { name: 'audit', description: 'The audit log and its seal check' },
      { name: 'process', description: 'Health and metrics, on every process' },
      { name: 'ui', description: 'The review page' },
      { name: 'meta', description: 'This description' },
    ],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from auth.tokens of remediator.yaml; its role decides what it may do.' } },
      schemas: componentSchemas(),
      responses: COMPONENT_RESPONSES,
    },
  };
  return cached;
}

/** The handler of `GET /api/v1/openapi.json` (no token). */
export function openApiRoute(): RequestHandler {
  let body: string | undefined;
  return (_req, res) => {
    body ??= JSON.stringify(openApiDocument());
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.send(body);
  };
}
