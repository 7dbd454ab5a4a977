import { Option, type Command } from 'commander';
import { ApiClient } from './api-client.js';
import { addClientOptions, addContextOption, resolutionHints, resolveClientOptions, type ClientFlags, type ResolvedClientOptions } from './client-options.js';
import { readContexts } from './context-store.js';
import { registerContextVerbs } from './context-verbs.js';
import { decisionVerb, type Decision } from './decision-verbs.js';
import type { ExitCode } from './exit-codes.js';
import { processOutput, type Output } from './output.js';
import { collect } from './parse-params.js';
import { pauseVerb, type PauseOptions } from './pause-verbs.js';
import { explainVerb } from './explain-verb.js';
import { alertsVerb, type AlertsOptions } from './alerts-verb.js';
import { reportError } from './report-error.js';
import { runVerb, type RunVerbOptions } from './run-verb.js';
import { listRunsVerb, showRunVerb, type RunsListOptions } from './runs-verbs.js';
import type { VerbContext } from './verb-context.js';
import type { WaitOptions } from './wait-for-run.js';

const EXIT_CODES_HELP = `
Exit codes: 0 ok (with --wait: the run succeeded); 1 the run ended failed, blocked, rejected,
expired or cancelled, or the request was refused (409); 2 usage or validation error;
3 authentication or authorisation (401/403); 4 server unreachable or 5xx; 5 with --wait, the
run ended skipped or had not finished (e.g. awaiting_approval) when the wait timed out.`;

export interface ClientVerbDeps {
  version?: string;
  env?: NodeJS.ProcessEnv;
  out?: Output;
  fetch?: typeof fetch;
  now?: () => number;
  /** Per HTTP request (default 15 s). */
  requestTimeoutMs?: number;
  /** Tests shorten the --wait polling. */
  wait?: Partial<WaitOptions>;
  /** Where the exit code goes (default: process.exitCode). */
  exit?: (code: ExitCode) => void;
}

/**
 * Registers the client verbs of docs/cli.md (run, runs [list|show], approve, reject, cancel,
 * pause, resume; login and contexts). They talk to the HTTP API only and set the exit code of §5.
 * The server and token come from --url/--token, REMEDIATOR_URL/REMEDIATOR_TOKEN or a saved
 * context (the global --context NAME, else the current one): resolveClientOptions.
 */
export function registerClientVerbs(program: Command, deps: ClientVerbDeps = {}): void {
  const out = deps.out ?? processOutput;
  const env = deps.env ?? process.env;
  const exit = deps.exit ?? ((code: ExitCode) => void (process.exitCode = code));

  /** Builds the context from the verb's own options and runs it; any error becomes its exit code. */
  const act = (cmd: Command, verb: (ctx: VerbContext) => Promise<ExitCode>): Promise<void> => {
    const flags = cmd.optsWithGlobals<ClientFlags>();
    let resolved: ResolvedClientOptions | undefined;
    const run = async (): Promise<ExitCode> => {
      resolved = resolveClientOptions(flags, env, () => readContexts({ env, warn: (line) => out.err(line) }));
      const client = new ApiClient({
        url: resolved.url,
        ...(resolved.token !== undefined ? { token: resolved.token } : {}),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        ...(deps.requestTimeoutMs !== undefined ? { timeoutMs: deps.requestTimeoutMs } : {}),
        ...(deps.version ? { userAgent: `remediator-cli/${deps.version}` } : {}),
      });
      return verb({ client, out, output: resolved.output, now: deps.now ?? Date.now });
    };
    return run().then(exit, (err: unknown) => {
      const r = resolved;
      exit(reportError(err, out, { output: flags.output, ...(r?.token !== undefined ? { token: r.token } : {}), ...(r ? { hints: (e: unknown) => resolutionHints(r, e) } : {}) }));
    });
  };

  addContextOption(program);

  const reasonOption = (what: string): Option => new Option('--reason <text>', `${what} (required; audited with your name)`).makeOptionMandatory();
  /** --url, --token, -o and the exit codes in the help. */
  const client = (cmd: Command): Command => addClientOptions(cmd).addHelpText('after', EXIT_CODES_HELP);

  client(
    program
      .command('run')
      .description('start a manual run of a playbook (operator; admin for --bypass-guards)')
      .argument('<playbook>', 'playbook name (remediator playbooks lists them)')
      .option('-p, --param <key=value>', 'a playbook param, repeatable; values that parse as JSON are JSON (5, true, {"a":1}, "quoted"), else strings', collect)
      .addOption(reasonOption('why this run'))
      .option('--dry-run', 'record what would change without changing anything')
      .option('--bypass-guards', 'admin only: pass cooldowns, rate limits and the node budget (audited)')
      .option('--precheck <promql>', 'PromQL that must return a result right before the first mutation, else the run is skipped')
      .option('--wait', 'follow the run until it ends; exit 0 succeeded, 1 failed/blocked/rejected/expired/cancelled, 5 skipped or still waiting')
      .option('--timeout <duration>', 'how long --wait waits', '10m'),
  ).action((playbook: string, _opts: unknown, cmd: Command) => act(cmd, (ctx) => runVerb(ctx, playbook, cmd.opts<RunVerbOptions>(), deps.wait)));

  const runs = program.command('runs').description('list runs, or show one (viewer)');
  client(
    runs
      .command('list', { isDefault: true })
      .description('list runs, newest first')
      .option('--status <list>', 'only these statuses (comma-separated, e.g. failed,blocked)')
      .option('--playbook <name>', 'only runs of this playbook')
      .option('--rule <name>', 'only runs started by this rule')
      .option('--target <target>', 'only runs on this target (e.g. node/gpu-node-3)')
      .option('--since <when>', 'created since: a duration back from now (24h) or RFC 3339')
      .option('--limit <n>', 'at most this many (per page with --all; server default 50, max 500)')
      .option('--cursor <cursor>', 'continue from a previous page')
      .option('--all', 'follow the pages to the end'),
  ).action((_opts: unknown, cmd: Command) => act(cmd, (ctx) => listRunsVerb(ctx, cmd.opts<RunsListOptions>())));
  client(
    runs
      .command('show')
      .description('show one run: trigger, guard, approval and each step with before → after')
      .argument('<id>', 'run ID (or its first 8 characters, as tables show)'),
  ).action((id: string, _opts: unknown, cmd: Command) => act(cmd, (ctx) => showRunVerb(ctx, id)));

  const decisions: [Decision, string][] = [
    ['approve', 'approve a run awaiting approval (operator; not the one who asked for it)'],
    ['reject', 'reject a run awaiting approval (operator)'],
    ['cancel', 'cancel a queued or waiting run, or stop a running one before its next change (operator)'],
    ['ack', 'acknowledge an escalation: release the target its rule holds after it (operator)'],
  ];
  for (const [decision, description] of decisions) {
    client(
      program
        .command(decision)
        .description(description)
        .argument('<id>', 'run ID (or its first 8 characters)')
        .addOption(reasonOption(`why ${decision}`)),
    ).action((id: string, _opts: unknown, cmd: Command) => act(cmd, (ctx) => decisionVerb(ctx, decision, id, cmd.opts<{ reason: string }>().reason)));
  }

  client(
    program
      .command('alerts')
      .description('the alert inbox, newest first: every alert seen, its decision and why (viewer)')
      .option('--decision <decision>', 'only this decision (enqueued, duplicate, unmatched, invalid_params, blocked, …)')
      .option('--alertname <name>', 'only this alert')
      .option('--rule <name>', 'only alerts this rule decided')
      .option('--since <when>', 'first seen at or after: a duration back from now (24h) or RFC 3339')
      .option('--limit <n>', 'at most this many (≤ 500)')
      .option('--cursor <cursor>', 'the next page (printed when there is one)'),
  ).action((_opts: unknown, cmd: Command) => act(cmd, (ctx) => alertsVerb(ctx, cmd.opts<AlertsOptions>())));

  client(
    program
      .command('explain')
      .description('what the webhook would decide for a notification now (viewer); writes nothing')
      .requiredOption('-f, --file <notification.json>', 'an Alertmanager webhook body (or a capture holding one under "body")'),
  ).action((_opts: unknown, cmd: Command) => act(cmd, (ctx) => explainVerb(ctx, cmd.opts<{ file: string }>())));

  for (const action of ['pause', 'resume'] as const) {
    client(
      program
        .command(action)
        .description(action === 'pause' ? 'pause automation, globally or for one playbook (admin)' : 'resume automation, globally or for one playbook (admin)')
        .option('--playbook <name>', 'only this playbook (default: global)')
        .addOption(reasonOption(`why ${action}`)),
    ).action((_opts: unknown, cmd: Command) => act(cmd, (ctx) => pauseVerb(ctx, action, cmd.opts<PauseOptions>())));
  }

  // login and contexts [list|use|delete]: kubectl-style contexts the verbs above fall back to.
  registerContextVerbs(program, {
    out,
    env,
    exit,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.requestTimeoutMs !== undefined ? { requestTimeoutMs: deps.requestTimeoutMs } : {}),
    ...(deps.version ? { version: deps.version } : {}),
  });
}
