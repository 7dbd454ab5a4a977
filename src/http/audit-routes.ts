import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ValidationError } from '../domain/errors.js';
import { AuditQuery, InvalidAuditCursorError, QUERYABLE_AUDIT_TYPES, parseStreamId, type AuditFilter, type AuditItem } from '../audit/audit-query.js';
import { verifyAuditChain } from '../audit/verify-audit-chain.js';
import type { TokenAuth } from './auth.js';
import { HttpError } from './http-error.js';
import { parseSince } from './control-routes.js';

export interface AuditRouteDeps {
  auth: TokenAuth;
  redis: Redis;
  prefix: string;
  /** The audit HMAC key (from `audit.keyFile`); only ever in memory. */
  key: Buffer;
  /** `audit.maxAge` / `audit.maxEntries`: verify checks each recorded trim was due under them. */
  retention?: { maxAgeMs: number; maxEntries: number };
  logger: Logger;
}

export const NDJSON = 'application/x-ndjson';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const FILTER_PARAMS = ['since', 'until', 'type', 'actor', 'target', 'playbook', 'rule', 'runId', 'after'] as const;
const LIST_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit', 'cursor', 'format']);

type Issue = { path: string; message: string };

function handle(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}

/** Query values as strings; repeated keys (`type=a&type=b`) are joined with commas. */
function queryStrings(req: Request, allowed: ReadonlySet<string>, issues: Issue[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.has(key)) {
      issues.push({ path: key, message: `unknown parameter (known: ${[...allowed].join(', ')})` });
      continue;
    }
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((v): v is string => typeof v === 'string')) {
      issues.push({ path: key, message: 'expected a string' });
      continue;
    }
    const text = list.join(',').trim();
    if (text !== '') out.set(key, text);
  }
  return out;
}

function parseTime(value: string, path: string, issues: Issue[]): number | undefined {
  try {
    return parseSince(value);
  } catch {
    issues.push({ path, message: `"${value}" is neither RFC 3339 nor a duration back from now like 24h` });
    return undefined;
  }
}

/** The filters of GET /api/v1/audit; every problem is reported at once. */
export function parseAuditFilter(q: ReadonlyMap<string, string>, issues: Issue[]): AuditFilter {
  const filter: AuditFilter = {};
  const since = q.get('since');
  if (since !== undefined) {
    const ms = parseTime(since, 'since', issues);
    if (ms !== undefined) filter.sinceMs = ms;
  }
  const until = q.get('until');
  if (until !== undefined) {
    const ms = parseTime(until, 'until', issues);
    if (ms !== undefined) filter.untilMs = ms;
  }
  const after = q.get('after');
  if (after !== undefined) {
    const id = parseStreamId(after);
    if (id === undefined) issues.push({ path: 'after', message: `"${after}" is not a stream id like 1714567890123-0 (an item's id)` });
    else filter.after = id;
  }
  const type = q.get('type');
  if (type !== undefined) {
    const types = type.split(',').map((t) => t.trim()).filter((t) => t !== '');
    const unknown = types.filter((t) => !QUERYABLE_AUDIT_TYPES.includes(t));
    if (unknown.length > 0) issues.push({ path: 'type', message: `unknown type ${unknown.join(', ')} (one of ${QUERYABLE_AUDIT_TYPES.join(', ')})` });
    else filter.types = types;
  }
  for (const key of ['actor', 'target', 'playbook', 'rule', 'runId'] as const) {
    const v = q.get(key);
    if (v !== undefined) filter[key] = v;
  }
  return filter;
}

function wantsNdjson(req: Request, q: ReadonlyMap<string, string>): boolean {
  const format = q.get('format');
  if (format !== undefined) return format === 'ndjson';
  return req.accepts(['application/json', NDJSON]) === NDJSON;
}

/** Resolves when the socket can take more, or is gone. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The review side of the audit log (docs/http-api.md; docs/audit-log.md):
 *
 * - `GET /api/v1/audit` → `{items: [{id, ...entry, sealed}], nextCursor}`, newest first. Filters
 *   `since`/`until` (RFC 3339 or a duration back from now; compared on the stream id, i.e. when
 *   the entry was appended), `type` (comma-separated), `actor`, `target` (exact or a
 *   segment prefix: `node/`, `deployment/ml-serving`; also matches a kube_mutation's `object`),
 *   `playbook`, `rule`, `runId`, and `after` (a stream id: only entries appended after it; for
 *   followers). `limit` 1–1000 (default 100); `cursor` = a previous `nextCursor` (opaque, from
 *   the stream id, so paging neither skips nor repeats while entries are appended). A page may
 *   hold fewer than `limit` items and still have a `nextCursor` when a rare filter scanned its
 *   budget; only `nextCursor: null` means the end.
 * - The same with `Accept: application/x-ndjson` (or `format=ndjson`) streams every matching
 *   entry, OLDEST FIRST, one item per line, up to the newest entry present when the export began;
 *   `limit` and `cursor` do not apply.
 * - `GET /api/v1/audit/verify` → `{ok, checked, unsealed, firstBad?}`; `checkpoint=ID:SEAL` (from
 *   the sealer's `audit seal` log line) also proves the newest entries were not removed.
 */
/** Verifies running at once per process, and per viewer: a full-chain walk is costly, so a viewer cannot start many. */
export const MAX_VERIFIES_IN_FLIGHT = 2;
const VERIFY_RETRY_AFTER_S = 5;

export function auditRoutes(deps: AuditRouteDeps): Router {
  const router = express.Router();
  const query = new AuditQuery(deps.redis, deps.prefix);
  const verifying = new Set<string>();

  router.get('/api/v1/audit/verify', deps.auth.require('viewer'), handle(async (req, res) => {
    const viewer = (res.locals.principal as { name: string }).name;
    if (verifying.has(viewer) || verifying.size >= MAX_VERIFIES_IN_FLIGHT) {
      res.setHeader('Retry-After', String(VERIFY_RETRY_AFTER_S));
      throw new HttpError(429, 'too_many_requests', verifying.has(viewer) ? 'a verify of yours is still running; wait for it' : 'verifies are already running; retry shortly');
    }
    verifying.add(viewer);
    try {
      await verifyRequest(req, res);
    } finally {
      verifying.delete(viewer);
    }
  }));

  async function verifyRequest(req: Request, res: Response): Promise<void> {
    const issues: Issue[] = [];
    const q = queryStrings(req, new Set(['checkpoint', 'full']), issues);
    const fullParam = q.get('full');
    if (fullParam !== undefined && fullParam !== 'true' && fullParam !== 'false') issues.push({ path: 'full', message: 'true or false' });
    let checkpoint: { id: string; seal: string } | undefined;
    const cp = q.get('checkpoint');
    if (cp !== undefined) {
      const m = /^([^:]+):([0-9a-f]{64})$/.exec(cp);
      const id = m ? parseStreamId(m[1]!) : undefined;
      if (!m || id === undefined) issues.push({ path: 'checkpoint', message: 'expected ID:SEAL, e.g. 1714567890123-0:<64 hex digits> from the sealer\'s "audit seal" log line' });
      else checkpoint = { id, seal: m[2]! };
    }
    if (issues.length > 0) throw new ValidationError('invalid verify request', issues);
    // From the cached, key-attested checkpoint of the last verify unless `full=true` asks to recompute every seal.
    const report = await verifyAuditChain({
      redis: deps.redis,
      prefix: deps.prefix,
      key: deps.key,
      incremental: fullParam !== 'true',
      ...(deps.retention ? { retention: deps.retention } : {}),
      ...(checkpoint ? { checkpoint } : {}),
    });
    res.json(report);
  }

  router.get('/api/v1/audit', deps.auth.require('viewer'), handle(async (req, res) => {
    const issues: Issue[] = [];
    const q = queryStrings(req, LIST_PARAMS, issues);
    const filter = parseAuditFilter(q, issues);
    const format = q.get('format');
    if (format !== undefined && format !== 'json' && format !== 'ndjson') issues.push({ path: 'format', message: 'json or ndjson' });
    const ndjson = wantsNdjson(req, q);
    if (ndjson) {
      for (const key of ['limit', 'cursor']) {
        if (q.has(key)) issues.push({ path: key, message: 'an NDJSON export streams the whole matching range; bound it with since, until or after instead' });
      }
    }
    const limitText = q.get('limit') ?? String(DEFAULT_LIMIT);
    const limit = Number(limitText);
    if (!ndjson && (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIMIT)) issues.push({ path: 'limit', message: `an integer from 1 to ${MAX_LIMIT}` });
    if (issues.length > 0) throw new ValidationError('invalid audit query', issues);

    if (!ndjson) {
      const cursor = q.get('cursor');
      try {
        res.json(await query.page(filter, { limit, ...(cursor !== undefined ? { cursor } : {}) }));
      } catch (err) {
        if (err instanceof InvalidAuditCursorError) throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this API returned' }]);
        throw err;
      }
      return;
    }
    await streamExport(res, query.export(filter), deps.logger);
  }));

  return router;
}

/**
 * Writes pages as NDJSON, waiting for 'drain' whenever the socket buffer is full; stops if the
 * client goes away. The first page is read before the status line, so a Redis that is down
 * still answers a proper 503.
 */
async function streamExport(res: Response, pages: AsyncGenerator<AuditItem[]>, logger: Logger): Promise<void> {
  let next = await pages.next();
  let gone = res.destroyed;
  res.on('close', () => {
    gone = true;
  });
  res.status(200);
  res.setHeader('Content-Type', `${NDJSON}; charset=utf-8`);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Audit-Order', 'oldest-first');
  res.flushHeaders();
  let lines = 0;
  try {
    while (!next.done && !gone) {
      let chunk = '';
      for (const item of next.value) chunk += `${JSON.stringify(item)}\n`;
      lines += next.value.length;
      if (!res.write(chunk)) await drained(res);
      if (gone) break;
      next = await pages.next();
    }
  } catch (err) {
    // The status line is gone already: cut the response so the client sees an incomplete transfer.
    logger.warn({ err, lines }, 'audit export failed midway');
    res.destroy(err as Error);
    return;
  } finally {
    await pages.return(undefined);
  }
  if (gone) {
    logger.debug({ lines }, 'audit export: client went away');
    return;
  }
  res.end();
}
