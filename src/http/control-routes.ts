import express, { type RequestHandler, type Router } from 'express';
import type { RunControl, Operator } from '../engine/run-control.js';
import type { ManualRuns } from '../engine/manual-runs.js';
import type { PauseControl } from '../engine/pause-control.js';
import type { RunStore, RunFilter } from '../engine/run-store.js';
import { RUN_STATUSES, type RunStatus } from '../domain/run.js';
import { ValidationError } from '../domain/errors.js';
import { isDuration, parseDuration } from '../domain/duration.js';
import type { TokenAuth, Principal } from './auth.js';
import { jsonBody } from './json-body.js';

export interface ControlRouteDeps {
  auth: TokenAuth;
  control: RunControl;
  manualRuns: ManualRuns;
  pauses: PauseControl;
  runs: RunStore;
  status: () => Promise<Record<string, unknown>>;
}

type AsyncHandler = (req: express.Request, res: express.Response) => Promise<void>;

function handle(fn: AsyncHandler): RequestHandler {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}

function operatorOf(res: express.Response): Operator {
  const p = res.locals.principal as Principal;
  return { name: p.name, role: p.role };
}

function body(req: express.Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new ValidationError('the body must be a JSON object', [{ path: '(body)', message: 'expected an object' }]);
  return b as Record<string, unknown>;
}

function optionalString(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ValidationError(`invalid ${key}`, [{ path: key, message: 'expected a string' }]);
  return v;
}

/** `since` as RFC 3339 or a duration back from now (`24h`). */
export function parseSince(value: string, now = Date.now()): number {
  if (isDuration(value)) return now - parseDuration(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ValidationError('invalid since', [{ path: 'since', message: `"${value}" is neither RFC 3339 nor a duration like 24h` }]);
  return t;
}

/** Manual runs, approvals, cancellation, pause/resume and run listing (docs/http-api.md). */
export function controlRoutes(deps: ControlRouteDeps): Router {
  const router = express.Router();
  const json = jsonBody('256kb');
  const { auth, control, manualRuns, pauses, runs } = deps;

  router.get('/api/v1/status', auth.require('viewer'), handle(async (_req, res) => {
    // The caller's own role lets the review page offer only what this token may do.
    res.json({ ...(await deps.status()), caller: operatorOf(res) });
  }));

  router.post('/api/v1/runs', auth.require('operator'), json, handle(async (req, res) => {
    const b = body(req);
    const params = b.params ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new ValidationError('invalid run request', [{ path: 'params', message: 'expected an object' }]);
    for (const key of ['dryRun', 'bypassGuards'] as const) {
      if (b[key] !== undefined && typeof b[key] !== 'boolean') throw new ValidationError('invalid run request', [{ path: key, message: 'expected a boolean' }]);
    }
    const result = await manualRuns.createManual(
      {
        playbook: optionalString(b, 'playbook') ?? '',
        params: params as Record<string, unknown>,
        reason: optionalString(b, 'reason') ?? '',
        ...(b.dryRun !== undefined ? { dryRun: b.dryRun as boolean } : {}),
        ...(b.bypassGuards !== undefined ? { bypassGuards: b.bypassGuards as boolean } : {}),
        ...(optionalString(b, 'precheck') !== undefined ? { precheck: optionalString(b, 'precheck')! } : {}),
      },
      operatorOf(res),
    );
    res.status(202).json(result);
  }));

  router.get('/api/v1/runs', auth.require('viewer'), handle(async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const str = (key: string): string | undefined => (typeof q[key] === 'string' && q[key] !== '' ? (q[key] as string) : undefined);
    const filter: RunFilter = {};
    const status = str('status');
    if (status) {
      const list = status.split(',');
      const bad = list.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
      if (bad.length > 0) throw new ValidationError('invalid status filter', [{ path: 'status', message: `unknown status ${bad.join(', ')} (one of ${RUN_STATUSES.join(', ')})` }]);
      filter.status = list as RunStatus[];
    }
    for (const key of ['playbook', 'rule', 'target'] as const) {
      const v = str(key);
      if (v) filter[key] = v;
    }
    const since = str('since');
    if (since) filter.sinceMs = parseSince(since);
    const limitText = str('limit') ?? '50';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ValidationError('invalid limit', [{ path: 'limit', message: 'an integer from 1 to 500' }]);
    let page;
    try {
      page = await runs.query(filter, limit, str('cursor'));
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this API returned' }]);
      throw err;
    }
    res.json({ items: page.items, nextCursor: page.nextCursor ?? null });
  }));

  for (const action of ['approve', 'reject', 'cancel'] as const) {
    router.post(`/api/v1/runs/:id/${action}`, auth.require('operator'), json, handle(async (req, res) => {
      const reason = optionalString(body(req), 'reason') ?? '';
      const id = String(req.params.id);
      const operator = operatorOf(res);
      const result = action === 'approve' ? await control.approve(id, operator, reason) : action === 'reject' ? await control.reject(id, operator, reason) : await control.cancel(id, operator, reason);
      res.status(200).json(result);
    }));
  }

  router.post('/api/v1/runs/:id/ack', auth.require('operator'), json, handle(async (req, res) => {
    const reason = optionalString(body(req), 'reason') ?? '';
    res.status(200).json(await control.ack(String(req.params.id), operatorOf(res), reason));
  }));

  for (const action of ['pause', 'resume'] as const) {
    router.post(`/api/v1/${action}`, auth.require('admin'), json, handle(async (req, res) => {
      const b = body(req);
      const reason = optionalString(b, 'reason') ?? '';
      const playbook = optionalString(b, 'playbook');
      const result = action === 'pause' ? await pauses.pause(operatorOf(res), reason, playbook) : await pauses.resume(operatorOf(res), reason, playbook);
      res.status(200).json(result);
    }));
  }
  return router;
}
