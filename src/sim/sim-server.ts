/**
 * The HTTP face of the sim: kube-apiserver's URL layout, content negotiation, query options,
 * bearer-token check and watch streams, on plain node:http. All REST semantics live in SimApi;
 * this file only translates between HTTP and it, and records every request for tests.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, SIM_KUBERNETES_VERSION } from './discovery.js';
import type { KubeObject } from './kube-types.js';
import { isRecord } from './kube-types.js';
import { findResource } from './resources.js';
import { matchesRequirements, parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { DeleteOptions, PatchType, Scope, SimApi, WriteOptions } from './sim-api.js';
import type { SimRbac } from './rbac.js';
import { PODS } from './sim-controllers.js';
import type { SimStore } from './sim-store.js';
import { renderTable, wantsTable } from './tables.js';
import {
  badRequest,
  failureStatus,
  internalErrorStatus,
  invalid,
  methodNotSupported,
  pathNotFound,
  SimApiError,
  unauthorized,
  unsupportedMediaType,
  type StatusBody,
} from './status.js';
import { toServedVersion } from './versions.js';
import { checkEarlyFault, earlyFaultStatus, PLAIN_TOO_MANY_REQUESTS, type PathTarget, type SimEarlyEffect, type SimEarlyFault } from './sim-early-faults.js';

export type { SimEarlyAnswer, SimEarlyEffect, SimEarlyFault } from './sim-early-faults.js';

export interface SimRequestRecord {
  method: string;
  /** URL path without the query string. */
  path: string;
  /** Query parameters (the last value wins when one is repeated). */
  query: Record<string, string>;
  /** `dryRun=All` was requested (query or, for evictions, deleteOptions). */
  dryRun: boolean;
  contentType?: string;
  /** Parsed JSON (or YAML for apply patches) body; the raw text when it does not parse. */
  body?: unknown;
  /**
   * HTTP status of the answer; 0 while none has been written, and for good when a 'none'
   * fault withheld it. A faulted answer is recorded as sent even if the client had gone.
   */
  status: number;
  /** Arrival time, ISO 8601. */
  time: string;
  userAgent?: string;
  /**
   * The server changed its state for this request: a non-GET answered 2xx that was not a dry
   * run. Known once the handler has run; false until then and for everything else.
   */
  applied?: boolean;
  /**
   * Set when an injected fault replaced or delayed the answer: a SimFault's answer (the request
   * was applied), or what a SimEarlyFault did before anything was applied ('refused', 'hung',
   * 'delayed'; a delayed write that then meets a SimFault shows the latter).
   */
  fault?: SimFaultAnswer | SimEarlyEffect;
  /** How long a SimEarlyFault held the request before refusing or serving it. */
  delayedMs?: number;
  /** A request a 'hang' fault held: how long until the client (or the sim closing) dropped the connection. */
  hungForMs?: number;
  /** With RBAC on: the authenticated user (system:admin for the sim's own token). */
  user?: string;
}

export type SimFaultAnswer = 'error' | 'none' | 'normal';

/**
 * Makes the sim apply a request and then lose (or delay) its answer, as a kube-apiserver does
 * when it commits a write and the connection or the server dies before the response is out.
 */
export interface SimFault {
  /**
   * Picks the request; only asked about applied requests (non-GET, 2xx, no dry run), after
   * the change is in the store. `record.status` is still 0 at that point.
   */
  match(record: SimRequestRecord): boolean;
  /**
   * What the client gets after the server applied the request: 'error' = a 500 Status
   * (InternalError); 'none' = no answer at all, the socket stays open until the client gives
   * up or the sim closes; 'normal' = the real answer (useful with afterApply).
   */
  answer: SimFaultAnswer;
  /**
   * Awaited after the request was applied and before the answer is sent (e.g. to kill the
   * client). What it throws is logged and otherwise ignored.
   */
  afterApply?: (record: SimRequestRecord) => Promise<void> | void;
  /** How many matching requests to hit (default 1); the fault is removed after that. */
  times?: number;
}

export interface SimServerOptions {
  api: SimApi;
  store: SimStore;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * RBAC on: tokens are authenticated and requests authorized by it (401 / 403); the `token`
   * above (or "sim-token") is the all-powerful admin. Off when absent.
   */
  rbac?: SimRbac;
  records: SimRequestRecord[];
  serverAddress: () => string;
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function tryParse(text: string, type: string): unknown {
  if (text === '') return undefined;
  try {
    return type.includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch {
    return text;
  }
}

function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding body: ${(err as Error).message}`);
  }
}

/** Body of a create or update: JSON or YAML, as the server's negotiated decoders accept. */
function decodeObjectBody(text: string, contentType: string): unknown {
  if (contentType === '' || contentType === 'application/json' || contentType === '*/*') return decodeJson(text);
  if (contentType === 'application/yaml' || contentType === 'application/x-yaml') {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
  }
  throw unsupportedMediaType(
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
  );
}

function decodePatchBody(text: string, type: PatchType): unknown {
  if (type === 'apply') {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

function dryRunValues(query: URLSearchParams): string[] {
  return query.getAll('dryRun').flatMap((v) => v.split(',')).filter((v) => v !== '');
}

/** ValidateDryRun: only "All" exists; anything else is a 422 on the options object. */
function checkDryRun(values: string[], optionsKind: string): boolean {
  if (values.some((v) => v !== 'All')) {
    throw invalid({ group: 'meta.k8s.io', kind: optionsKind }, '', [
      {
        type: 'FieldValueNotSupported',
        field: 'dryRun',
        display: `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`,
        supported: ['All'],
      },
    ]);
  }
  return values.length > 0;
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: ${raw}`);
  return n;
}

interface Route {
  scope: Scope;
  name?: string;
  subresource?: string;
  watch: boolean;
}

/** Resolves the resource part of `/api/v1/...` or `/apis/{g}/{v}/...`. */
function resolveRoute(group: string, version: string, rest: string[]): Route | undefined {
  let watch = false;
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const def = findResource(group, version, rest[2] ?? '');
    if (def?.namespaced && rest.length <= 5) {
      return { scope: { def, version, namespace: rest[1] }, name: rest[3], subresource: rest[4], watch };
    }
  }
  const def = findResource(group, version, rest[0] ?? '');
  if (!def || rest.length > 3) return undefined;
  if (def.namespaced && rest.length > 1) return undefined;
  return { scope: { def, version }, name: rest[1], subresource: rest[2], watch };
}

/** Group, resource and name of an API path (a subresource names its parent object), when it is one. */
function pathTarget(pathname: string): PathTarget | undefined {
  const segments = pathname.split('/').filter((s) => s !== '');
  let route: Route | undefined;
  if (segments[0] === 'api' && segments[1] === 'v1') route = resolveRoute('', 'v1', segments.slice(2));
  else if (segments[0] === 'apis' && segments.length >= 4) route = resolveRoute(segments[1] ?? '', segments[2] ?? '', segments.slice(3));
  if (!route) return undefined;
  return { gr: { group: route.scope.def.group, resource: route.scope.def.plural }, ...(route.name ? { name: route.name } : {}) };
}

/** The 500 a client gets when an 'error' fault swallowed the real answer of an applied write. */
function lostAnswerStatus(record: SimRequestRecord): StatusBody {
  const message = `Internal error occurred: sim fault: ${record.method} ${record.path} was applied but its answer was lost after the write`;
  return failureStatus(500, 'InternalError', message, { causes: [{ message }] });
}

interface PendingFault<F> {
  fault: F;
  remaining: number;
}

function faultTimes(times: number | undefined): number {
  const n = times ?? 1;
  if (!(n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n >= 1))) throw new Error(`sim: fault times must be a positive integer or Infinity, got ${n}`);
  return n;
}

/** The first pending fault that matches, consumed; synchronous so concurrent requests cannot both take the last hit. */
function takeFrom<F extends { match(record: SimRequestRecord): boolean }>(faults: PendingFault<F>[], record: SimRequestRecord): F | undefined {
  const index = faults.findIndex((p) => {
    try {
      return p.fault.match(record);
    } catch (err) {
      process.stderr.write(`sim: fault matcher threw, treated as no match: ${String(err)}\n`);
      return false;
    }
  });
  const pending = faults[index];
  if (!pending) return undefined;
  pending.remaining -= 1;
  if (pending.remaining <= 0) faults.splice(index, 1);
  return pending.fault;
}

function isEarly(fault: SimFault | SimEarlyFault): fault is SimEarlyFault {
  return (fault as Partial<SimEarlyFault>).stage === 'before-apply';
}

export class SimHttpHandler {
  private readonly watches = new Set<ServerResponse>();
  // send() only sees the response; faults are decided on the request it answers.
  private readonly recordOf = new WeakMap<ServerResponse, SimRequestRecord>();
  private faults: PendingFault<SimFault>[] = [];
  private earlyFaults: PendingFault<SimEarlyFault>[] = [];
  /** Answers an early fault holds back (hung, or waiting out a delay): ended when the sim closes. */
  private readonly held = new Set<ServerResponse>();
  private readonly delays = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: SimServerOptions) {}

  /** Ends open watch streams, and answers early faults hold back, so the server can close. */
  closeWatches(): void {
    for (const res of this.watches) res.end();
    this.watches.clear();
    for (const timer of this.delays) clearTimeout(timer);
    this.delays.clear();
    for (const res of this.held) res.destroy();
    this.held.clear();
  }

  /** A SimFault (applied, then the answer lost or delayed) or a SimEarlyFault (refused, hung or slow before anything is applied). */
  injectFault(fault: SimFault | SimEarlyFault): void {
    const remaining = faultTimes(fault.times);
    if (isEarly(fault)) {
      checkEarlyFault(fault);
      this.earlyFaults.push({ fault, remaining });
    } else {
      this.faults.push({ fault, remaining });
    }
  }

  clearFaults(): void {
    this.faults = [];
    this.earlyFaults = [];
  }

  private takeFault(record: SimRequestRecord): SimFault | undefined {
    return takeFrom(this.faults, record);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = new Date();
    const url = new URL(req.url ?? '/', 'http://sim.local');
    // client-node asks for "/version/"; the server treats a trailing slash as the same path.
    if (url.pathname.length > 1 && url.pathname.endsWith('/')) url.pathname = url.pathname.replace(/\/+$/, '');
    const contentType = req.headers['content-type'];
    const record: SimRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      dryRun: url.searchParams.getAll('dryRun').includes('All'),
      status: 0,
      time: started.toISOString(),
      ...(contentType ? { contentType } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
      applied: false,
    };
    this.opts.records.push(record);
    this.recordOf.set(res, record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    readBody(req)
      .then((text) => {
        const parsed = tryParse(text, mediaType(contentType));
        if (parsed !== undefined) record.body = parsed;
        // DeleteOptions may carry dryRun in the body, directly or inside an Eviction.
        const options = isRecord(parsed) && isRecord(parsed['deleteOptions']) ? parsed['deleteOptions'] : parsed;
        if (isRecord(options) && Array.isArray(options['dryRun'])) record.dryRun ||= options['dryRun'].includes('All');
        this.authenticate(req, url, record);
        const early = takeFrom(this.earlyFaults, record);
        if (early) return this.answerEarly(req, res, url, text, record, early);
        this.route(req, res, url, text);
        if (res.headersSent) record.status = res.statusCode;
      })
      .catch((err: unknown) => {
        this.sendError(res, err);
        record.status = res.statusCode;
      });
  };

  private authenticate(req: IncomingMessage, url: URL, record: SimRequestRecord): void {
    const { token, rbac } = this.opts;
    const path = url.pathname;
    if (rbac) {
      const user = rbac.authenticate(req.headers.authorization);
      record.user = user.username;
      rbac.authorize(user, req.method ?? 'GET', path, url.searchParams);
      return;
    }
    if (!token) return;
    const header = req.headers.authorization;
    if (header === undefined && PUBLIC_PATHS.has(path)) return;
    if (header !== `Bearer ${token}`) throw unauthorized();
  }

  /** Every JSON answer goes through here, which makes it the one place where a write is known to be applied. */
  private send(res: ServerResponse, code: number, body: unknown): void {
    const record = this.recordOf.get(res);
    if (record && code >= 200 && code < 300 && record.method !== 'GET' && !record.dryRun) {
      record.applied = true;
      const fault = this.takeFault(record);
      if (fault) {
        record.fault = fault.answer;
        void this.answerFaulted(res, record, fault, code, body);
        return;
      }
    }
    this.write(res, code, body);
  }

  private async answerFaulted(res: ServerResponse, record: SimRequestRecord, fault: SimFault, code: number, body: unknown): Promise<void> {
    if (fault.afterApply) {
      try {
        await fault.afterApply(record);
      } catch (err) {
        process.stderr.write(`sim: fault afterApply hook failed (ignored): ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      }
    }
    // 'none' leaves the response open on purpose: the client must see a write that never answers.
    if (fault.answer === 'none') return;
    const answer = fault.answer === 'error' ? lostAnswerStatus(record) : body;
    const answerCode = fault.answer === 'error' ? 500 : code;
    // Recorded before writing so a test that reads the record as soon as its client has the answer sees it.
    record.status = answerCode;
    // The sim may have closed, or the hook killed the client, while the hook ran.
    if (res.destroyed || res.writableEnded) return;
    try {
      this.write(res, answerCode, answer);
    } catch (err) {
      process.stderr.write(`sim: could not write the faulted answer: ${String(err)}\n`);
    }
  }

  /** Refuses, holds or delays a request an early fault caught; nothing is applied unless it is served. */
  private async answerEarly(req: IncomingMessage, res: ServerResponse, url: URL, text: string, record: SimRequestRecord, fault: SimEarlyFault): Promise<void> {
    if (fault.answer === 'hang') {
      record.fault = 'hung';
      const since = Date.now();
      this.hold(res);
      res.once('close', () => {
        record.hungForMs = Date.now() - since;
      });
      return;
    }
    if (fault.delayMs !== undefined && fault.delayMs > 0) {
      record.delayedMs = fault.delayMs;
      if (fault.answer === 'serve') record.fault = 'delayed';
      this.hold(res);
      const delayMs = fault.delayMs;
      const waited = await new Promise<'elapsed' | 'gone'>((resolve) => {
        const timer = setTimeout(() => {
          this.delays.delete(timer);
          resolve('elapsed');
        }, delayMs);
        this.delays.add(timer);
        // The client going away (or the sim closing) ends the wait early.
        res.once('close', () => {
          clearTimeout(timer);
          this.delays.delete(timer);
          resolve('gone');
        });
      });
      this.held.delete(res);
      // The request's context is done: it is dropped, never applied.
      if (waited === 'gone' || res.destroyed || res.writableEnded) return;
    }
    if (fault.answer === 'serve') {
      record.fault = 'delayed';
      try {
        this.route(req, res, url, text);
        if (res.headersSent) record.status = res.statusCode;
      } catch (err) {
        this.sendError(res, err);
        record.status = res.statusCode;
      }
      return;
    }
    record.fault = 'refused';
    record.status = fault.answer;
    if (fault.plainText) {
      res.writeHead(429, {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
        ...(fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {}),
      });
      res.end(PLAIN_TOO_MANY_REQUESTS);
      return;
    }
    // Written directly: a refusal must never meet a SimFault (which only hits applied requests anyway).
    this.write(res, fault.answer, earlyFaultStatus({ ...fault, answer: fault.answer }, record, pathTarget(url.pathname)));
  }

  private hold(res: ServerResponse): void {
    this.held.add(res);
    res.once('close', () => this.held.delete(res));
  }

  private write(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    // ErrorNegotiated: a Status that carries a retry hint also says so in the Retry-After header.
    const retryAfter = isRecord(body) && body['kind'] === 'Status' && isRecord(body['details']) ? body['details']['retryAfterSeconds'] : undefined;
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, private',
      'Audit-Id': randomUUID(),
      ...(typeof retryAfter === 'number' && retryAfter > 0 ? { 'Retry-After': String(retryAfter) } : {}),
    });
    res.end(text);
  }

  private sendError(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    const status = err instanceof SimApiError ? err.body : internalErrorStatus(err instanceof Error ? err.message : String(err));
    this.send(res, status.code, status);
  }

  private route(req: IncomingMessage, res: ServerResponse, url: URL, text: string): void {
    const segments = url.pathname.split('/').filter((s) => s !== '');
    const [first, second, third] = segments;
    if (url.pathname === '/version') return this.send(res, 200, SIM_KUBERNETES_VERSION);
    if (PUBLIC_PATHS.has(url.pathname)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (first === 'api') {
      if (segments.length === 1) return this.send(res, 200, apiVersions(this.opts.serverAddress()));
      if (second === 'v1') return this.routeGroupVersion(req, res, url, text, '', 'v1', segments.slice(2));
    }
    if (first === 'apis') {
      if (segments.length === 1) return this.send(res, 200, apiGroupList());
      const group = apiGroup(second ?? '');
      if (segments.length === 2 && group) return this.send(res, 200, group);
      if (third && segments.length >= 3) return this.routeGroupVersion(req, res, url, text, second ?? '', third, segments.slice(3));
    }
    throw pathNotFound();
  }

  private routeGroupVersion(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    text: string,
    group: string,
    version: string,
    rest: string[],
  ): void {
    if (rest.length === 0) {
      const list = apiResourceList(group, version);
      if (!list) throw pathNotFound();
      return this.send(res, 200, list);
    }
    const route = resolveRoute(group, version, rest);
    if (!route) throw pathNotFound();
    const { api } = this.opts;
    const { scope, name, subresource } = route;
    const gr = { group: scope.def.group, resource: scope.def.plural };
    const method = req.method ?? 'GET';
    const query = url.searchParams;
    const contentType = mediaType(req.headers['content-type']);
    const fieldManager = query.get('fieldManager') ?? undefined;
    const writeOpts = (optionsKind: string): WriteOptions => ({
      dryRun: checkDryRun(dryRunValues(query), optionsKind),
      ...(fieldManager ? { fieldManager } : {}),
    });
    const accept = req.headers.accept;

    if (name === undefined) {
      if (method === 'GET') {
        const listOpts = {
          ...(query.get('labelSelector') ? { labelSelector: query.get('labelSelector') ?? '' } : {}),
          ...(query.get('fieldSelector') ? { fieldSelector: query.get('fieldSelector') ?? '' } : {}),
          ...(intParam(query, 'limit') !== undefined ? { limit: intParam(query, 'limit') } : {}),
          ...(query.get('continue') ? { continueToken: query.get('continue') ?? '' } : {}),
        };
        if (route.watch || query.get('watch') === 'true' || query.get('watch') === '1') {
          return this.watch(req, res, scope, listOpts, query);
        }
        const list = api.list(scope, listOpts);
        return this.send(res, 200, wantsTable(accept) ? renderTable(scope.def, list.items, list.metadata.resourceVersion) : list);
      }
      if (method === 'POST') {
        if (scope.namespace === undefined && scope.def.namespaced) throw methodNotSupported(gr, 'create');
        const created = api.create(scope, decodeObjectBody(text, contentType), writeOpts('CreateOptions'));
        return this.send(res, 201, created);
      }
      throw methodNotSupported(gr, method === 'DELETE' ? 'deletecollection' : method.toLowerCase());
    }

    if (subresource === undefined) {
      switch (method) {
        case 'GET': {
          const obj = api.get(scope, name);
          return this.send(res, 200, wantsTable(accept) ? renderTable(scope.def, [obj], obj.metadata.resourceVersion ?? '') : obj);
        }
        case 'PUT':
          return this.send(res, 200, api.update(scope, name, decodeObjectBody(text, contentType), writeOpts('UpdateOptions')));
        case 'PATCH': {
          const type = this.patchType(contentType);
          return this.send(res, 200, api.patch(scope, name, type, decodePatchBody(text, type), writeOpts('PatchOptions')));
        }
        case 'DELETE': {
          const deleteOpts = this.deleteOptions(text, query);
          const result = api.delete(scope, name, deleteOpts.options, { dryRun: deleteOpts.dryRun });
          return this.send(res, result.code, result.body);
        }
        default:
          throw methodNotSupported(gr, method.toLowerCase());
      }
    }

    if (subresource === 'scale') {
      switch (method) {
        case 'GET':
          return this.send(res, 200, api.getScale(scope, name));
        case 'PUT':
          return this.send(res, 200, api.updateScale(scope, name, decodeObjectBody(text, contentType), writeOpts('UpdateOptions')));
        case 'PATCH': {
          const type = this.patchType(contentType);
          return this.send(res, 200, api.patchScale(scope, name, type, decodePatchBody(text, type), writeOpts('PatchOptions')));
        }
        default:
          throw methodNotSupported({ group: gr.group, resource: `${gr.resource}/scale` }, method.toLowerCase());
      }
    }

    if (subresource === 'status' && scope.def.subresources.some((s) => s.name === 'status')) {
      switch (method) {
        case 'GET':
          return this.send(res, 200, api.get(scope, name));
        case 'PUT':
          return this.send(res, 200, api.update(scope, name, decodeObjectBody(text, contentType), writeOpts('UpdateOptions'), 'status'));
        case 'PATCH': {
          const type = this.patchType(contentType);
          return this.send(res, 200, api.patch(scope, name, type, decodePatchBody(text, type), writeOpts('PatchOptions'), 'status'));
        }
        default:
          throw methodNotSupported({ group: gr.group, resource: `${gr.resource}/status` }, method.toLowerCase());
      }
    }

    if (scope.def === PODS && subresource === 'eviction') {
      if (method !== 'POST') throw methodNotSupported({ group: '', resource: 'pods/eviction' }, method.toLowerCase());
      const dryRun = checkDryRun(dryRunValues(query), 'CreateOptions');
      return this.send(res, 201, api.evict(scope.namespace ?? '', name, decodeObjectBody(text, contentType), dryRun));
    }

    if (scope.def === PODS && subresource === 'log' && method === 'GET') {
      const pod = api.get(scope, name);
      const containers = (pod.spec?.['containers'] as Array<{ name: string }> | undefined) ?? [];
      const container = query.get('container') ?? containers[0]?.name ?? '';
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`simulated log of ${scope.namespace}/${name} container ${container}\n`);
      return;
    }

    throw pathNotFound();
  }

  private patchType(contentType: string): PatchType {
    const type = PATCH_TYPES[contentType];
    if (!type) {
      throw unsupportedMediaType(
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json',
      );
    }
    return type;
  }

  private deleteOptions(text: string, query: URLSearchParams): { options: DeleteOptions; dryRun: boolean } {
    const body = text.trim() === '' ? {} : decodeJson(text);
    if (!isRecord(body)) throw badRequest('the body of the request was not a DeleteOptions object');
    const options: DeleteOptions = {};
    const grace = intParam(query, 'gracePeriodSeconds') ?? (typeof body['gracePeriodSeconds'] === 'number' ? body['gracePeriodSeconds'] : undefined);
    if (grace !== undefined) options.gracePeriodSeconds = Math.max(0, grace);
    const policy = query.get('propagationPolicy') ?? (typeof body['propagationPolicy'] === 'string' ? body['propagationPolicy'] : undefined);
    if (policy) options.propagationPolicy = policy;
    if (query.get('orphanDependents') === 'true' || body['orphanDependents'] === true) options.orphanDependents = true;
    if (isRecord(body['preconditions'])) {
      const pre = body['preconditions'];
      options.preconditions = {
        ...(typeof pre['uid'] === 'string' ? { uid: pre['uid'] } : {}),
        ...(typeof pre['resourceVersion'] === 'string' ? { resourceVersion: pre['resourceVersion'] } : {}),
      };
    }
    const bodyDryRun = Array.isArray(body['dryRun']) ? body['dryRun'].map(String) : [];
    const dryRun = checkDryRun([...dryRunValues(query), ...bodyDryRun], 'DeleteOptions');
    return { options, dryRun };
  }

  /**
   * A watch stream: newline-delimited `{type, object}` events. Without a resourceVersion (or
   * "0") it starts with ADDED events for what exists, as the watch cache does.
   */
  private watch(
    req: IncomingMessage,
    res: ServerResponse,
    scope: Scope,
    listOpts: { labelSelector?: string; fieldSelector?: string },
    query: URLSearchParams,
  ): void {
    const { def } = scope;
    const labels = listOpts.labelSelector ? parseLabelSelector(listOpts.labelSelector) : [];
    const fields = listOpts.fieldSelector ? parseFieldSelector(listOpts.fieldSelector) : [];
    for (const f of fields) if (!def.fields[f.field]) throw badRequest(`field label not supported: ${f.field}`);
    const matches = (obj: KubeObject) =>
      (!scope.namespace || obj.metadata.namespace === scope.namespace) &&
      matchesRequirements(obj.metadata.labels, labels) &&
      fields.every((f) => ((def.fields[f.field]?.(obj) ?? '') === f.value) !== f.negate);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    // Clients (client-go's reflector) wait for the headers before they consider the watch open.
    res.flushHeaders();
    this.watches.add(res);
    const table = wantsTable(req.headers.accept);
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const write = (type: string, obj: KubeObject) =>
      send(type, table ? renderTable(def, [obj], obj.metadata.resourceVersion ?? '') : toServedVersion(def, obj, scope.version));
    const rv = query.get('resourceVersion');
    if (!rv || rv === '0') {
      for (const obj of this.opts.store.list(def, scope.namespace)) if (matches(obj)) write('ADDED', obj);
    } else {
      // Resuming after a list: replay what changed since, so nothing falls between list and watch.
      const missed = this.opts.store.changesSince(Number(rv));
      if (!missed) {
        send('ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${rv} (${this.opts.store.resourceVersion})`,
          reason: 'Expired',
          code: 410,
        });
        res.end();
        this.watches.delete(res);
        return;
      }
      for (const change of missed) if (change.resource === def && matches(change.object)) write(change.type, change.object);
    }
    const unsubscribe = this.opts.store.subscribe((change) => {
      if (change.resource === def && matches(change.object)) write(change.type, change.object);
    });
    const timeout = intParam(query, 'timeoutSeconds');
    const timer = timeout ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const stop = () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      this.watches.delete(res);
    };
    req.on('close', stop);
    res.on('close', stop);
  }
}
