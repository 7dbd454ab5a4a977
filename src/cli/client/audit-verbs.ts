import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import type { AuditItem, AuditPage } from '../../audit/audit-query.js';
import type { AuditChainReport } from '../../audit/verify-audit-chain.js';
import { compareStreamIds } from '../../audit/stream-id.js';
import { ApiClient, ApiError, displayUrl, parseBaseUrl, type ApiErrorBody, type Query } from './api-client.js';
import { followHeader, followRow, renderAuditTable, renderVerifyReport } from './audit-format.js';
import { addClientOptions, addContextOption, DEFAULT_URL, resolutionHints, resolveClientOptions, type ResolvedClientOptions } from './client-options.js';
import { readContexts } from './context-store.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { processOutput, type Output } from './output.js';
import { reportError } from './report-error.js';

export type AuditOutputFormat = 'table' | 'json' | 'ndjson';

export interface AuditListOptions {
  since?: string;
  until?: string;
  type?: string;
  actor?: string;
  target?: string;
  playbook?: string;
  rule?: string;
  run?: string;
  limit?: string;
  cursor?: string;
  follow?: boolean;
  output: AuditOutputFormat;
}

export interface AuditVerbDeps {
  version?: string;
  env?: NodeJS.ProcessEnv;
  out?: Output;
  fetch?: typeof fetch;
  /** Per JSON request (default 15 s; `audit verify` allows 20 times that). */
  requestTimeoutMs?: number;
  /** How often `--follow` polls (default 1000 ms). */
  pollMs?: number;
  /** Ends `--follow` (default: SIGINT or SIGTERM). */
  stop?: AbortSignal;
  exit?: (code: ExitCode) => void;
}

/** What an audit verb works with. */
export interface AuditContext {
  client: ApiClient;
  /** For the NDJSON export, which streams instead of going through ApiClient. */
  baseUrl: URL;
  token?: string;
  fetch: typeof fetch;
  out: Output;
  /** Writes to stdout, waiting while a slow reader (a pipe) has not taken the previous output. */
  write(text: string): Promise<void>;
  timeoutMs: number;
  pollMs: number;
  stop: AbortSignal;
}

const NDJSON = 'application/x-ndjson';
const API_PAGE_MAX = 1000;
const DEFAULT_LIST = 100;
const DEFAULT_FOLLOW_BACKLOG = 20;

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliError(`${flag} must be a positive integer, got "${text}"`, EXIT.usage);
  return Number(text);
}

function laterId(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareStreamIds(a, b) >= 0 ? a : b;
}

/** Pages newest first until `limit` items or the end; `after` bounds it below (exclusive). */
async function collectNewest(ctx: AuditContext, query: Query, limit: number, cursor?: string, after?: string): Promise<AuditPage> {
  const items: AuditItem[] = [];
  let next: string | null = cursor ?? null;
  let first = true;
  while (items.length < limit && (first || next !== null)) {
    first = false;
    const page = await ctx.client.get<AuditPage>('api/v1/audit', { ...query, after, limit: Math.min(API_PAGE_MAX, limit - items.length), cursor: next ?? undefined });
    items.push(...page.items);
    next = page.nextCursor ?? null;
  }
  return { items, nextCursor: next };
}

/** The id of the newest entry in the whole log (no filters), where a follower starts. */
async function newestId(ctx: AuditContext): Promise<string | undefined> {
  const page = await ctx.client.get<AuditPage>('api/v1/audit', { limit: 1 });
  return page.items[0]?.id;
}

async function apiErrorFrom(res: Response, what: string, where: string): Promise<Error> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const b = body as ApiErrorBody | undefined;
  if (res.status >= 400 && res.status < 500) {
    return new ApiError(res.status, typeof b?.message === 'string' && typeof b.error === 'string' ? b : { error: `http_${res.status}`, message: `${what} answered ${res.status} ${res.statusText}` });
  }
  return new CliError(`${where} answered ${what} with ${res.status} ${res.statusText}`.trim(), EXIT.unavailable);
}

/**
 * Streams the API's NDJSON export (oldest first) to stdout as it arrives. Returns the id of the
 * last entry written, where a follower continues.
 */
async function exportNdjson(ctx: AuditContext, query: Query): Promise<string | undefined> {
  const url = new URL('api/v1/audit', ctx.baseUrl);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  const where = displayUrl(ctx.baseUrl);
  const headers: Record<string, string> = { accept: NDJSON };
  if (ctx.token) headers.authorization = `Bearer ${ctx.token}`;
  const abort = new AbortController();
  const onStop = (): void => abort.abort();
  ctx.stop.addEventListener('abort', onStop);
  // The timeout covers the answer's start only; an export of a long log takes as long as it takes.
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${Math.round(ctx.timeoutMs / 1000)}s`)), ctx.timeoutMs);
  let lastId: string | undefined;
  let lines = 0;
  try {
    let res: Response;
    try {
      res = await ctx.fetch(url, { headers, signal: abort.signal, redirect: 'manual' });
    } catch (err) {
      if (ctx.stop.aborted) return undefined;
      throw new CliError(`cannot reach the Remediator API at ${where}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`, EXIT.unavailable, [
        'check --url / REMEDIATOR_URL and that the server is running',
      ]);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok || !res.body) throw await apiErrorFrom(res, `GET ${url.pathname}`, where);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let tail = '';
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (ctx.stop.aborted) return lastId;
        throw new CliError(`the export from ${where} broke off after ${lines} entries: ${(err as Error).message}`, EXIT.unavailable);
      }
      if (chunk.done) break;
      const text = decoder.decode(chunk.value, { stream: true });
      const parts = (tail + text).split('\n');
      tail = parts.pop() ?? '';
      if (parts.length > 0) {
        lines += parts.length;
        try {
          lastId = (JSON.parse(parts[parts.length - 1]!) as { id: string }).id;
        } catch {
          // not an item line; the follower continues from the previous one
        }
      }
      await ctx.write(text);
    }
    return lastId;
  } finally {
    ctx.stop.removeEventListener('abort', onStop);
  }
}

/** Is this worth retrying in `--follow` (the server restarting), rather than exiting? */
function transient(err: unknown): boolean {
  return (err instanceof CliError && err.exitCode === EXIT.unavailable) || (err instanceof ApiError && err.status >= 500);
}

async function followVerb(ctx: AuditContext, opts: AuditListOptions, query: Query, backlog: number): Promise<ExitCode> {
  const print = async (itemsOldestFirst: readonly AuditItem[]): Promise<void> => {
    if (itemsOldestFirst.length === 0) return;
    let text = '';
    for (const item of itemsOldestFirst) text += opts.output === 'table' ? followRow(item, ctx.out.columns) : `${JSON.stringify(item)}\n`;
    await ctx.write(text);
  };
  // Where the log ends now: whatever the filters skip below it is never read again.
  let lastSeen = await newestId(ctx);
  if (opts.output === 'ndjson') {
    lastSeen = laterId(lastSeen, await exportNdjson(ctx, query));
  } else {
    if (opts.output === 'table') await ctx.write(followHeader(ctx.out.columns));
    const page = await collectNewest(ctx, query, backlog);
    await print([...page.items].reverse());
    lastSeen = laterId(lastSeen, page.items[0]?.id);
  }
  let outage = false;
  while (!ctx.stop.aborted) {
    await sleep(ctx.pollMs, undefined, { signal: ctx.stop }).catch(() => undefined);
    if (ctx.stop.aborted) break;
    try {
      // The log's end first, then the matches after lastSeen: every entry up to that end existed
      // when the matches were read, so moving lastSeen there skips only entries that did not match.
      const head = await newestId(ctx);
      const page = await collectNewest(ctx, query, Number.POSITIVE_INFINITY, undefined, lastSeen);
      await print([...page.items].reverse());
      lastSeen = laterId(laterId(lastSeen, head), page.items[0]?.id);
      if (outage) ctx.out.err('audit: reconnected\n');
      outage = false;
    } catch (err) {
      if (!transient(err)) throw err;
      if (!outage) ctx.out.err(`audit: ${(err as Error).message}; retrying every ${ctx.pollMs} ms\n`);
      outage = true;
    }
  }
  return EXIT.ok;
}

/**
 * `remediator audit [filters] [--follow] [-o table|json|ndjson]`.
 * - table/json: the newest `--limit` entries (default 100), newest first (json: `{items, nextCursor}` as the API).
 * - ndjson: the API's export of every matching entry, oldest first, streamed.
 * - `--follow`: the last `--limit` entries (default 20; ndjson: the whole export), oldest first,
 *   then each new entry as it is written, until Ctrl-C. json prints one object per line.
 */
export async function auditListVerb(ctx: AuditContext, opts: AuditListOptions): Promise<ExitCode> {
  const limit = positiveInt(opts.limit, '--limit');
  if (opts.output === 'ndjson' && (limit !== undefined || opts.cursor !== undefined)) {
    throw new CliError('-o ndjson exports every matching entry: bound it with --since/--until, not --limit/--cursor', EXIT.usage);
  }
  if (opts.follow && opts.until !== undefined) throw new CliError('--follow shows new entries as they are written: it cannot take --until', EXIT.usage);
  if (opts.follow && opts.cursor !== undefined) throw new CliError('--follow starts at the newest entries: it cannot take --cursor', EXIT.usage);
  const query: Query = {
    since: opts.since,
    until: opts.until,
    type: opts.type,
    actor: opts.actor,
    target: opts.target,
    playbook: opts.playbook,
    rule: opts.rule,
    runId: opts.run,
  };
  if (opts.follow) return followVerb(ctx, opts, query, limit ?? DEFAULT_FOLLOW_BACKLOG);
  if (opts.output === 'ndjson') {
    await exportNdjson(ctx, query);
    return EXIT.ok;
  }
  const page = await collectNewest(ctx, query, limit ?? DEFAULT_LIST, opts.cursor);
  if (opts.output === 'json') {
    await ctx.write(`${JSON.stringify(page, null, 2)}\n`);
    return EXIT.ok;
  }
  await ctx.write(renderAuditTable(page.items, ctx.out.columns));
  if (page.nextCursor) ctx.out.err(`(older entries: raise --limit, or add --cursor ${page.nextCursor})\n`);
  return EXIT.ok;
}

/** `remediator audit verify`: exit 0 when the chain is intact, 1 when not. */
export async function auditVerifyVerb(ctx: AuditContext, opts: { checkpoint?: string; full?: boolean; output: 'table' | 'json' }): Promise<ExitCode> {
  const report = await ctx.client.get<AuditChainReport>('api/v1/audit/verify', { checkpoint: opts.checkpoint, ...(opts.full ? { full: 'true' } : {}) });
  await ctx.write(opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderVerifyReport(report));
  return report.ok ? EXIT.ok : EXIT.refused;
}

/** Stops `--follow` on Ctrl-C (or SIGTERM); a second Ctrl-C exits at once. */
function signalStop(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Registers `audit [list]` and `audit verify` (docs/cli.md): client verbs over the HTTP API only. */
export function registerAuditVerbs(program: Command, deps: AuditVerbDeps = {}): void {
  const out = deps.out ?? processOutput;
  const env = deps.env ?? process.env;
  const exit = deps.exit ?? ((code: ExitCode) => void (process.exitCode = code));

  const write = async (text: string): Promise<void> => {
    out.out(text);
    if (out === processOutput && process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
  };

  const act = (cmd: Command, follow: boolean, verb: (ctx: AuditContext) => Promise<ExitCode>): Promise<void> => {
    const flags = cmd.optsWithGlobals<{ url?: string; token?: string; context?: string; output: AuditOutputFormat }>();
    let token: string | undefined;
    let resolved: ResolvedClientOptions | undefined;
    const stopper = follow && !deps.stop ? signalStop() : undefined;
    if (out === processOutput) {
      // `remediator audit -o ndjson | head`: a closed pipe ends the verb quietly.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(EXIT.ok);
      });
    }
    const run = async (): Promise<ExitCode> => {
      resolved = resolveClientOptions(
        { ...(flags.url !== undefined ? { url: flags.url } : {}), ...(flags.token !== undefined ? { token: flags.token } : {}), ...(flags.context !== undefined ? { context: flags.context } : {}), output: 'table' },
        env,
        () => readContexts({ env, warn: (line) => out.err(line) }),
      );
      token = resolved.token;
      const timeoutMs = deps.requestTimeoutMs ?? 15_000;
      const client = new ApiClient({
        url: resolved.url,
        ...(token !== undefined ? { token } : {}),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        // verify recomputes the whole chain server-side.
        timeoutMs: cmd.name() === 'verify' ? timeoutMs * 20 : timeoutMs,
        ...(deps.version ? { userAgent: `remediator-cli/${deps.version}` } : {}),
      });
      return verb({
        client,
        baseUrl: parseBaseUrl(resolved.url),
        ...(token !== undefined ? { token } : {}),
        fetch: deps.fetch ?? globalThis.fetch,
        out,
        write,
        timeoutMs,
        pollMs: deps.pollMs ?? 1000,
        stop: deps.stop ?? stopper?.signal ?? new AbortController().signal,
      });
    };
    return run()
      .then(exit, (err: unknown) => {
        const r = resolved;
        exit(reportError(err, out, { output: flags.output === 'json' ? 'json' : 'table', ...(token !== undefined ? { token } : {}), ...(r ? { hints: (e: unknown) => resolutionHints(r, e) } : {}) }));
      })
      .finally(() => stopper?.dispose());
  };

  addContextOption(program);
  const audit = program
    .command('audit')
    .description('review the audit log (viewer): list, filter, export, follow, verify the seal chain')
    .addHelpText(
      'after',
      `
"audit" alone is "audit list". Its options (remediator audit list --help):
  --since/--until 24h|RFC3339, --type T[,T], --actor A, --target node/gpu-node-3 (or a prefix: node/),
  --playbook P, --rule R, --run ID, --limit N, --follow, -o table|json|ndjson, --url, --token
Server and token: --url/--token, else REMEDIATOR_URL/REMEDIATOR_TOKEN, else the current context
(remediator login, remediator contexts); --context NAME uses another saved context.

Examples:
  remediator audit --target node/gpu-node-3 --since 24h
  remediator audit --since 7d -o ndjson > audit.ndjson     (export, oldest first)
  remediator audit --follow --type guard_blocked,run_status
  remediator audit verify`,
    );
  audit
    .command('list', { isDefault: true })
    .description('audit entries, newest first (-o ndjson: export every match, oldest first; --follow: then new ones as written)')
    .option('--since <when>', 'written since: a duration back from now (24h) or RFC 3339')
    .option('--until <when>', 'written until: a duration back from now or RFC 3339')
    .option('--type <types>', 'only these types (comma-separated): run_created, guard_blocked, run_status, kube_mutation, operator_action, auth_failed, alert_resolved, audit_trimmed')
    .option('--actor <name>', 'only by this actor (an operator, alertmanager, worker, system, anonymous)')
    .option('--target <target>', 'only this target or under this prefix (node/gpu-node-3, node/, deployment/ml-serving)')
    .option('--playbook <name>', 'only this playbook')
    .option('--rule <name>', 'only this rule')
    .option('--run <id>', 'only this run (full ID)')
    .option('--limit <n>', `at most this many (default ${DEFAULT_LIST}; with --follow, the backlog shown first, default ${DEFAULT_FOLLOW_BACKLOG})`)
    .option('--cursor <cursor>', 'continue below a previous page')
    .option('-f, --follow', 'keep printing new entries as they are written, oldest first, until Ctrl-C')
    .addOption(new Option('--url <url>', `API base URL (else REMEDIATOR_URL, else the current context, else ${DEFAULT_URL})`))
    .addOption(new Option('--token <token>', 'bearer token (else REMEDIATOR_TOKEN, else the current context); prefer the variable: arguments show in ps'))
    .addOption(new Option('-o, --output <format>', 'table for people; json (the API page) or ndjson (a streamed export) for scripts').choices(['table', 'json', 'ndjson']).default('table'))
    .action((_opts: unknown, cmd: Command) => {
      const opts = cmd.opts<AuditListOptions>();
      return act(cmd, opts.follow === true, (ctx) => auditListVerb(ctx, opts));
    });
  addClientOptions(
    audit
      .command('verify')
      .description('recompute the HMAC seal chain; exit 0 when intact, 1 when an entry was edited, removed, inserted or reordered')
      .option('--checkpoint <id:seal>', 'a seal from the sealer\'s "audit seal" log line: also proves the newest entries were not removed')
      .option('--full', 'recompute every seal, not only those after the last verify (whose entries are checked unchanged against its key-attested checkpoint)'),
  ).action((_opts: unknown, cmd: Command) => act(cmd, false, (ctx) => auditVerifyVerb(ctx, cmd.opts<{ checkpoint?: string; full?: boolean; output: 'table' | 'json' }>())));
}
