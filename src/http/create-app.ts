import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Metrics } from '../observability/metrics.js';
import type { AlertIntake } from '../engine/alert-intake.js';
import type { RunStore } from '../engine/run-store.js';
import type { AnyPlaybook } from '../engine/playbook.js';
import { parseWebhookPayload } from '../alertmanager/webhook-payload.js';
import { HttpError } from './http-error.js';
import { jsonBody } from './json-body.js';
import { parseUnparsed, webhookBody, webhookBodyOf } from './webhook-body.js';
import type { TokenAuth } from './auth.js';
import { controlRoutes, parseSince } from './control-routes.js';
import { uiRoutes } from '../ui/ui-routes.js';
import { auditRoutes, type AuditRouteDeps } from './audit-routes.js';
import { openApiRoute } from './openapi.js';
import type { AlertSimulator } from '../engine/alert-simulator.js';
import { INBOX_LIMIT_MAX, type AlertInbox, type InboxFilter } from '../engine/alert-inbox.js';
import { DECISIONS } from '../observability/metrics.js';
import type { RunControl } from '../engine/run-control.js';
import type { ManualRuns } from '../engine/manual-runs.js';
import type { PauseControl } from '../engine/pause-control.js';
import { ConflictError, ForbiddenError, NotFoundError, ReplicaAckError, RetryableError, ValidationError } from '../domain/errors.js';

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  /** Readiness: api = Redis reachable; worker = Redis and Kubernetes reachable. */
  ready: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** Refreshes scrape-time gauges (queue depth, pause state) before /metrics renders. */
  onScrape?: () => Promise<void>;
  /** True once shutdown began (HttpDrain): new requests get 503 with `Connection: close`. */
  shuttingDown?: () => boolean;
  /** Present on api processes only; a worker serves only /metrics, /healthz and /readyz. */
  api?: {
    auth: TokenAuth;
    intake: AlertIntake;
    /** `POST /api/v1/alerts/simulate`: the decisions a notification would get now, writing nothing. */
    simulator: AlertSimulator;
    /** `GET /api/v1/alerts`: the alert inbox. */
    inbox: AlertInbox;
    runs: RunStore;
    playbooks: ReadonlyMap<string, AnyPlaybook>;
    bodyLimit: string | number;
    control: RunControl;
    manualRuns: ManualRuns;
    pauses: PauseControl;
    status: () => Promise<Record<string, unknown>>;
    /** True when the Redis connection is up; false answers 503 at once instead of waiting. */
    redisUp: () => boolean;
    /** The audit review routes (GET /api/v1/audit, /api/v1/audit/verify). */
    audit: Omit<AuditRouteDeps, 'auth' | 'logger'>;
  };
}

/** Inside the 2 s the contract promises for a 503 when Redis is unavailable. */
const WEBHOOK_DEADLINE_MS = 1800;

/** Errors from a Redis that is down or unreachable: the webhook answers 503 so Alertmanager retries. */
export function isRedisUnavailable(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  // READONLY, LOADING, MASTERDOWN, CLUSTERDOWN and TRYAGAIN are what a failing-over Sentinel set or Cluster answers;
  // a pipeline in flight when its connection drops (the fence's SET + WAIT as the primary dies) is aborted.
  return /Stream isn't writeable|Connection is closed|Command aborted due to connection close|ECONNREFUSED|enqueue timed out|Command timed out|Reached the max retries|connect ETIMEDOUT|ENOTCONN|^READONLY|^LOADING|^MASTERDOWN|^CLUSTERDOWN|^TRYAGAIN|^NOREPLICAS|Cluster isn't ready|None of startup nodes is available|All sentinels are unreachable/i.test(message);
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // During shutdown: /healthz and /metrics still answer (liveness, the last scrape); everything
  // else, /readyz included, is 503 so the sender retries elsewhere and the Service drops the pod.
  app.use((req, res, next) => {
    if (!deps.shuttingDown?.()) return next();
    res.setHeader('Connection', 'close');
    if (req.method === 'GET' && (req.path === '/healthz' || req.path === '/metrics')) return next();
    res.setHeader('Retry-After', '1');
    res.status(503).json({ error: 'unavailable', message: 'shutting down; retry (another replica answers)' });
  });

  // One labelled child per route, method and code, looked up by a plain string: prom-client's own
  // label hashing per observation was measurable on the webhook's replay path (issue 18).
  const durations = new Map<string, { observe(seconds: number): void }>();
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = `${req.baseUrl ?? ''}${(req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.path.startsWith('/api/') ? 'api' : 'other')}`;
      const key = `${route}\u0000${req.method}\u0000${res.statusCode}`;
      let child = durations.get(key);
      if (!child) durations.set(key, (child = deps.metrics.httpDuration.labels({ route, method: req.method, code: String(res.statusCode) })));
      child.observe(Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    const result = await deps.ready().catch((err: unknown) => ({ ok: false, checks: { error: String(err) } }));
    res.status(result.ok ? 200 : 503).json(result);
  });
  app.get('/metrics', async (_req, res) => {
    await deps.onScrape?.();
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });

  const api = deps.api;
  if (api) {
    const json = jsonBody(api.bodyLimit);
    const alerts: RequestHandler = async (req, res, next) => {
      try {
        if (!api.redisUp()) throw new HttpError(503, 'unavailable', 'Redis is unavailable; Alertmanager will retry');
        const { digest, unparsed } = webhookBodyOf(req);
        if (unparsed !== undefined) {
          // The same bytes got an answer before, every alert joining a run: answered from memory if
          // Redis still names those runs (intake.replay), else evaluated in full. Its one MGET is
          // bounded by the connection's command timeout (1.5 s), inside the 2 s below.
          const answer = digest === undefined ? undefined : await api.intake.replay(digest);
          if (answer !== undefined) {
            res.status(200).type('application/json').send(answer);
            return;
          }
          req.body = parseUnparsed(unparsed);
        }
        // A hard deadline: a Redis that hangs rather than refuses must still get a 503 within 2 s.
        // Answering 503 after the decisions were recorded is safe: the retry finds them as duplicates.
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HttpError(503, 'unavailable', 'Redis did not answer in time; Alertmanager will retry')), WEBHOOK_DEADLINE_MS);
        });
        try {
          const parsed = parseWebhookPayload(req.body);
          if (!parsed.ok) throw new HttpError(400, 'bad_request', parsed.message);
          const result = await Promise.race([api.intake.receive(parsed.notification, digest), deadline]);
          res.status(200).json(result);
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        next(err);
      }
    };
    app.post('/api/v1/alerts', api.auth.require('alertmanager'), webhookBody(api.bodyLimit, (digest) => api.intake.mayReplay(digest)), alerts);
    app.post('/api/v1/alerts/simulate', api.auth.require('viewer'), json, async (req, res, next) => {
      try {
        const parsed = parseWebhookPayload(req.body);
        if (!parsed.ok) throw new HttpError(400, 'bad_request', parsed.message);
        if (!api.redisUp()) throw new HttpError(503, 'unavailable', 'Redis is unavailable: the guards cannot be read');
        res.json(await api.simulator.simulate(parsed.notification));
      } catch (err) {
        next(err);
      }
    });

    app.get('/api/v1/alerts', api.auth.require('viewer'), async (req, res, next) => {
      try {
        const q = req.query;
        const one = (name: string): string | undefined => {
          const v = q[name];
          if (v === undefined) return undefined;
          if (typeof v !== 'string') throw new ValidationError(`invalid ${name}`, [{ path: name, message: 'give it once' }]);
          return v;
        };
        const filter: InboxFilter = { limit: 50 };
        const limit = one('limit');
        if (limit !== undefined) {
          const n = Number(limit);
          if (!Number.isInteger(n) || n < 1 || n > INBOX_LIMIT_MAX) throw new ValidationError('invalid limit', [{ path: 'limit', message: `an integer from 1 to ${INBOX_LIMIT_MAX}` }]);
          filter.limit = n;
        }
        const decision = one('decision');
        if (decision !== undefined) {
          if (!(DECISIONS as readonly string[]).includes(decision)) throw new ValidationError('invalid decision', [{ path: 'decision', message: `one of ${DECISIONS.join(', ')}` }]);
          filter.decision = decision;
        }
        for (const name of ['alertname', 'rule', 'cursor'] as const) {
          const v = one(name);
          if (v !== undefined) filter[name] = v;
        }
        const since = one('since');
        if (since !== undefined) filter.sinceMs = parseSince(since);
        if (!api.redisUp()) throw new HttpError(503, 'unavailable', 'Redis is unavailable');
        res.json(await api.inbox.list(filter));
      } catch (err) {
        next(err);
      }
    });

    app.get('/api/v1/playbooks', api.auth.require('viewer'), (_req, res) => {
      res.json({
        items: [...api.playbooks.values()].map((p) => ({
          name: p.name,
          description: p.description,
          destructive: p.destructive,
          paramsSchema: z.toJSONSchema(p.paramsSchema, { io: 'input', unrepresentable: 'any' }),
        })),
      });
    });

    app.get('/api/v1/openapi.json', openApiRoute());
    app.use(uiRoutes());
    app.use(controlRoutes({ auth: api.auth, control: api.control, manualRuns: api.manualRuns, pauses: api.pauses, runs: api.runs, status: api.status }));
    app.use(auditRoutes({ auth: api.auth, logger: deps.logger, ...api.audit }));

    app.get('/api/v1/runs/:id', api.auth.require('viewer'), async (req, res, next) => {
      try {
        const run = await api.runs.get(String(req.params.id));
        if (!run) throw new HttpError(404, 'not_found', `run ${req.params.id} not found`);
        // How often Alertmanager sent this run's episode: from the alert inbox, read on demand.
        const seen = run.trigger.episode ? await api.inbox.seenOf(run.trigger.episode) : undefined;
        res.json(seen ? { ...run, ...seen } : run);
      } catch (err) {
        next(err);
      }
    });
  }

  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`)));

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
      return;
    }
    if (err instanceof ValidationError) {
      res.status(400).json({ error: 'invalid_request', message: err.message, details: err.details });
      return;
    }
    if (err instanceof NotFoundError) {
      res.status(404).json({ error: 'not_found', message: err.message });
      return;
    }
    if (err instanceof ForbiddenError) {
      res.status(403).json({ error: 'forbidden', message: err.message });
      return;
    }
    if (err instanceof ConflictError) {
      res.status(409).json({ error: err.code, message: err.message, ...err.body });
      return;
    }
    if (err instanceof ReplicaAckError) {
      deps.metrics.replicaAckFailures.inc();
      deps.logger.warn({ err }, 'replicas did not confirm the decisions; answering 503');
      res.status(503).json({ error: 'unavailable', message: err.message });
      return;
    }
    // Transient by its own account (a script whose keys kept changing under it): the sender retries.
    if (isRedisUnavailable(err) || err instanceof RetryableError) {
      deps.logger.warn({ err }, 'Redis unavailable; answering 503');
      res.status(503).json({ error: 'unavailable', message: 'Redis is unavailable; retry later' });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string; limit?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'payload_too_large', message: `request body exceeds server.bodyLimit (${e.limit} bytes)` });
      return;
    }
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'bad_request', message: `body is not valid JSON: ${e.message}` });
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ error: 'bad_request', message: e.message ?? 'bad request' });
      return;
    }
    deps.logger.error({ err }, 'unhandled error in HTTP handler');
    res.status(500).json({ error: 'internal', message: 'internal error' });
  };
  app.use(onError);
  return app;
}
