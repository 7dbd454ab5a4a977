import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { parseMatcher } from '../alertmanager/matcher.js';
import { parseDuration } from '../domain/duration.js';
import { DEFAULT_ALERT_PARAM_KEYS } from './alert-param-keys.js';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { configSchema, type ConfigDocument } from './config-schema.js';
import { crossCheck, type PlaybookLookup } from './cross-check.js';
import { issuesToProblems, requiredMessage } from './issues-to-problems.js';
import type { EscalateConfig, LoadedConfig, RedisConnectionConfig, RuleConfig, TlsFilesConfig, TokenConfig, TokenRole, VerifyConfig } from './loaded-config.js';
import type { HttpEndpointConfig } from '../clients/http-endpoint.js';
import { resolveTokens } from './resolve-tokens.js';

export type { PlaybookLookup } from './cross-check.js';

export interface ValidateOptions {
  /** For secrets (`tokenEnv`) and the PORT / REDIS_URL overrides. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Params each playbook takes from alert labels. Default: DEFAULT_ALERT_PARAM_KEYS. */
  alertParamKeys?: Readonly<Record<string, readonly string[]>>;
  /** Relative file paths in the config resolve against this. Default: the config file's directory. */
  baseDir?: string;
  /** Reads secret files (and, for loadConfig, the config file). Default: fs.readFileSync as UTF-8. */
  readFile?: (path: string) => string;
  /** `warn` for `validate`: secrets this machine cannot resolve become `warnings` (see resolveTokens). */
  unresolvedSecrets?: 'error' | 'warn';
}

export interface LoadConfigOptions extends ValidateOptions {
  /** `--config`; else REMEDIATOR_CONFIG; else ./remediator.yaml. */
  path?: string;
  playbooks: PlaybookLookup;
}

const readUtf8 = (path: string) => readFileSync(path, 'utf8');

/** Reads and validates `remediator.yaml`; throws ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const env = options.env ?? process.env;
  const path = options.path ?? (env.REMEDIATOR_CONFIG || undefined) ?? './remediator.yaml';
  const absolute = resolve(path);
  const readFile = options.readFile ?? readUtf8;
  let text: string;
  try {
    text = readFile(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(path, [{ path, message: `cannot read the config file ${absolute} (${code})` }]);
  }
  return validateConfigText(text, path, options.playbooks, { ...options, env, readFile, baseDir: options.baseDir ?? dirname(absolute) });
}

/**
 * Validates config text as `serve` would load it: YAML, the strict schema, matchers, playbooks
 * and their params, references, secrets and environment overrides. `source` names the text in
 * messages. Returns the loaded config or throws ConfigError with every problem and its path.
 */
export function validateConfigText(text: string, source: string, playbooks: PlaybookLookup, options: ValidateOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? dirname(resolve(source));
  const readFile = options.readFile ?? readUtf8;

  const raw = parseYaml(text, source);
  const parsed = configSchema.safeParse(raw, { error: requiredMessage });
  const problems: ConfigProblem[] = parsed.success ? [] : issuesToProblems(parsed.error.issues);
  problems.push(...crossCheck(raw, playbooks, options.alertParamKeys ?? DEFAULT_ALERT_PARAM_KEYS));
  const auth = raw.auth as { tokens?: unknown } | undefined;
  const { secrets, problems: secretProblems, warnings } = resolveTokens(typeof auth === 'object' && auth !== null ? auth.tokens : undefined, {
    baseDir,
    env,
    readFile,
    unresolved: options.unresolvedSecrets ?? 'error',
  });
  problems.push(...secretProblems);
  const overrides = environmentOverrides(env, problems);
  const rawRedis = raw.redis as Record<string, unknown> | undefined;
  if (overrides.redisUrl !== undefined && typeof rawRedis === 'object' && rawRedis !== null && (rawRedis.sentinel !== undefined || rawRedis.cluster !== undefined)) {
    // REDIS_URL would silently win over a topology someone wrote down on purpose: refuse instead.
    problems.push({ path: 'REDIS_URL (environment)', message: `is set, but the config chooses redis.${rawRedis.sentinel !== undefined ? 'sentinel' : 'cluster'}; unset REDIS_URL or remove that key` });
  }

  if (problems.length > 0 || !parsed.success) throw new ConfigError(source, problems);
  const config = build(parsed.data, { source, baseDir, secrets, overrides });
  if (warnings.length > 0) config.warnings = warnings;
  return config;
}

/** How many node copies aliases may expand to; a real config uses a handful. */
const MAX_ALIAS_COUNT = 100;

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

function parseYaml(text: string, source: string): Record<string, unknown> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((error) => {
        const at = error.linePos?.[0];
        return {
          path: at ? `line ${at.line}, column ${at.col}` : '(yaml)',
          // Drop yaml's code frame and position suffix; the path carries the position.
          message: error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
        };
      }),
    );
  }
  // A config needs no tags: `!!python/object`, `!!binary`, `!!set` or `!custom` would otherwise
  // arrive as an odd string, Buffer or Set and fail far from the cause, or not at all.
  const tagged: ConfigProblem[] = [];
  visit(doc, (_key, node) => {
    if ((isScalar(node) || isMap(node) || isSeq(node)) && node.tag !== undefined) {
      const at = node.range ? lineCol(text, node.range[0]) : undefined;
      tagged.push({ path: at ? `line ${at.line}, column ${at.col}` : '(yaml)', message: `YAML tag ${node.tag} is not allowed in a config (plain values only)` });
    }
  });
  if (tagged.length > 0) throw new ConfigError(source, tagged);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const message = (error as Error).message;
    // An alias expanding into ever more copies (a "billion laughs" file) stops here, cheaply.
    throw new ConfigError(source, [
      { path: '(yaml)', message: /alias count/i.test(message) ? `aliases expand to more than ${MAX_ALIAS_COUNT} copies: refused as a resource exhaustion attack (an "alias bomb")` : message },
    ]);
  }
  // An empty file is a valid config: every default.
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(source, [{ path: '(root)', message: 'must be a mapping of settings' }]);
  }
  return value as Record<string, unknown>;
}

function environmentOverrides(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): { port?: number; redisUrl?: string } {
  const overrides: { port?: number; redisUrl?: string } = {};
  if (env.PORT) {
    const port = /^\d+$/.test(env.PORT) ? Number(env.PORT) : NaN;
    if (port >= 0 && port <= 65535) overrides.port = port;
    else problems.push({ path: 'PORT (environment)', message: `invalid port ${JSON.stringify(env.PORT)}` });
  }
  if (env.REDIS_URL) {
    if (/^rediss?:\/\/\S+$/.test(env.REDIS_URL)) overrides.redisUrl = env.REDIS_URL;
    else problems.push({ path: 'REDIS_URL (environment)', message: 'must be a redis:// or rediss:// URL' });
  }
  return overrides;
}

interface BuildContext {
  source: string;
  baseDir: string;
  secrets: Map<number, string>;
  overrides: { port?: number; redisUrl?: string };
}

function build(doc: ConfigDocument, context: BuildContext): LoadedConfig {
  const file = (path: string) => resolve(context.baseDir, path);
  const { guards } = doc;
  const budget = guards.maxUnschedulableNodes;

  const config: LoadedConfig = {
    source: context.source,
    server: { ...doc.server, port: context.overrides.port ?? doc.server.port },
    redis: { connection: redisConnection(doc.redis, context.overrides.redisUrl, file), prefix: doc.redis.prefix, minReplicasAcked: doc.redis.minReplicasAcked },
    kubernetes: {
      requestTimeoutSeconds: doc.kubernetes.requestTimeoutSeconds,
      ...(doc.kubernetes.kubeconfig !== undefined && { kubeconfig: file(doc.kubernetes.kubeconfig) }),
      ...(doc.kubernetes.context !== undefined && { context: doc.kubernetes.context }),
    },
    dryRun: doc.dryRun,
    auth: { tokens: doc.auth.tokens.map((entry, index) => tokenConfig(entry.name, entry.role, context.secrets.get(index)!)) },
    audit: {
      maxAgeMs: parseDuration(doc.audit.maxAge),
      maxEntries: doc.audit.maxEntries,
      ...(doc.audit.keyFile !== undefined && { keyFile: file(doc.audit.keyFile) }),
    },
    runs: { retentionMs: parseDuration(doc.runs.retention) },
    guards: {
      maxConcurrentRuns: guards.maxConcurrentRuns,
      maxUnschedulableNodes: typeof budget === 'number' ? { count: budget } : { percent: Number(budget.slice(0, -1)) },
      namespaces: guards.namespaces.allow !== undefined ? { allow: guards.namespaces.allow } : { deny: guards.namespaces.deny ?? [] },
      optOutLabel: guards.optOutLabel,
      maxQueueAgeMs: parseDuration(guards.maxQueueAge),
      approvalTimeoutMs: parseDuration(guards.approvalTimeout),
      manualApproval: guards.manualApproval,
    },
    ui: { ...(doc.ui.externalUrl !== undefined && { externalUrl: doc.ui.externalUrl.replace(/\/+$/, '') }) },
    notifications: doc.notifications.map((n) => ({
      name: n.name,
      type: n.type,
      timeoutSeconds: n.timeoutSeconds,
      ...(n.url !== undefined && { url: n.url }),
      ...(n.urlFile !== undefined && { urlFile: file(n.urlFile) }),
      ...(n.urlEnv !== undefined && { urlEnv: n.urlEnv }),
      ...(n.secretFile !== undefined && { secretFile: file(n.secretFile) }),
      ...(n.secretEnv !== undefined && { secretEnv: n.secretEnv }),
    })),
    rules: doc.rules.map(
      (rule): RuleConfig => ({
        name: rule.name,
        matchers: rule.matchers.map((text) => parseMatcher(text)),
        matcherTexts: [...rule.matchers],
        playbook: rule.playbook,
        params: rule.params,
        ...(rule.cooldown !== undefined && { cooldownMs: parseDuration(rule.cooldown) }),
        ...(rule.maxRunsPerHour !== undefined && { maxRunsPerHour: rule.maxRunsPerHour }),
        approval: rule.approval,
        onResolved: rule.onResolved,
        dryRun: rule.dryRun,
        continue: rule.continue,
        ...(rule.precheck !== undefined && { precheck: rule.precheck }),
        ...(rule.verify !== undefined && { verify: verifyConfig(rule.verify) }),
        ...(rule.escalate !== undefined && { escalate: escalateConfig(rule.escalate) }),
        notify: rule.notify ?? [],
      }),
    ),
  };
  if (doc.prometheus) config.prometheus = endpointConfig(doc.prometheus, file);
  if (doc.alertmanager) config.alertmanager = endpointConfig(doc.alertmanager, file);
  return config;
}

type EndpointDocument = NonNullable<ConfigDocument['prometheus']>;
type TlsDocument = NonNullable<EndpointDocument['tls']>;

function tlsConfig(tls: TlsDocument, file: (path: string) => string): TlsFilesConfig {
  return {
    insecureSkipVerify: tls.insecureSkipVerify,
    ...(tls.caFile !== undefined && { caFile: file(tls.caFile) }),
    ...(tls.certFile !== undefined && { certFile: file(tls.certFile) }),
    ...(tls.keyFile !== undefined && { keyFile: file(tls.keyFile) }),
  };
}

function redisConnection(doc: ConfigDocument['redis'], urlOverride: string | undefined, file: (path: string) => string): RedisConnectionConfig {
  if (doc.sentinel) {
    const s = doc.sentinel;
    return {
      mode: 'sentinel',
      name: s.name,
      sentinels: [...s.sentinels],
      ...(s.passwordFile !== undefined && { passwordFile: file(s.passwordFile) }),
      ...(s.sentinelPasswordFile !== undefined && { sentinelPasswordFile: file(s.sentinelPasswordFile) }),
      ...(s.tls !== undefined && { tls: tlsConfig(s.tls, file) }),
    };
  }
  if (doc.cluster) {
    const c = doc.cluster;
    return {
      mode: 'cluster',
      nodes: [...c.nodes],
      ...(c.passwordFile !== undefined && { passwordFile: file(c.passwordFile) }),
      ...(c.tls !== undefined && { tls: tlsConfig(c.tls, file) }),
    };
  }
  return { mode: 'standalone', url: urlOverride ?? doc.url ?? 'redis://127.0.0.1:6379' };
}

function endpointConfig(doc: EndpointDocument, file: (path: string) => string): HttpEndpointConfig {
  const tls = doc.tls;
  return {
    url: doc.url,
    timeoutSeconds: doc.timeoutSeconds,
    retries: doc.retries,
    ...(doc.bearerTokenFile !== undefined && { bearerTokenFile: file(doc.bearerTokenFile) }),
    ...(doc.basicAuth !== undefined && { basicAuth: { username: doc.basicAuth.username, passwordFile: file(doc.basicAuth.passwordFile) } }),
    ...(tls !== undefined && { tls: tlsConfig(tls, file) }),
  };
}

function escalateConfig(doc: NonNullable<ConfigDocument['rules'][number]['escalate']>): EscalateConfig {
  return {
    notify: [...(doc.notify ?? [])],
    ...(doc.afterRepeats !== undefined && { afterRepeats: { count: doc.afterRepeats.count, withinMs: parseDuration(doc.afterRepeats.within) } }),
    ...(doc.playbook !== undefined && { playbook: { name: doc.playbook.name, params: doc.playbook.params, approval: doc.playbook.approval } }),
  };
}

/** Checks every `within / 10`, at least every minute and at most every 5 s, unless `interval` says otherwise. */
function verifyConfig(doc: NonNullable<ConfigDocument['rules'][number]['verify']>): VerifyConfig {
  const withinMs = parseDuration(doc.within);
  const intervalMs = doc.interval !== undefined ? parseDuration(doc.interval) : Math.min(60_000, Math.max(5000, Math.round(withinMs / 10)));
  return { withinMs, silence: doc.silence, intervalMs, ...(doc.query !== undefined && { query: doc.query }) };
}

function tokenConfig(name: string, role: TokenRole, secret: string): TokenConfig {
  const entry = { name, role } as TokenConfig;
  // Non-enumerable: logging or serialising the config can never leak the secret.
  Object.defineProperty(entry, 'token', { value: secret, enumerable: false });
  return entry;
}
