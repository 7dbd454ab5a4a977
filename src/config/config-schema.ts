import { z } from 'zod';
import { parseMatcher } from '../alertmanager/matcher.js';
import { parseDuration } from '../domain/duration.js';

/*
 * The YAML-level schema of `remediator.yaml` (docs/configuration.md). It holds no transforms, so it is also
 * what `remediator schema` prints as JSON Schema; turning durations into milliseconds, compiling
 * matchers and resolving secrets happen in the loader. Every object is strict: a misspelt key
 * is an error, never a silently ignored setting. Checks that span several entries (unique names,
 * playbooks and their params, notification references) live in the loader too, so that they run
 * even when an unrelated part of the file is broken.
 */

// The same grammar as domain/duration.ts, spelled as a regex so it also lands in the JSON Schema.
const DURATION = /^\d+(ms|s|m|h|d)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const HTTP_URL = /^https?:\/\/[^\s/]+\S*$/;
// Unions report the failing branch's own issue, so each branch carries the same message.
const BODY_LIMIT_MESSAGE = 'must be a size like "5mb", "512kb" or a number of bytes';
const NODE_BUDGET_MESSAGE = 'must be a whole number or a percentage from 0% to 100%';

function duration(options: { positive?: boolean } = {}) {
  const schema = z
    .string()
    .regex(DURATION, { error: (issue) => `invalid duration ${JSON.stringify(issue.input)} (use e.g. 30s, 10m, 1h, 7d)` });
  if (!options.positive) return schema;
  return schema.refine((text) => !DURATION.test(text) || parseDuration(text) > 0, 'must be longer than 0');
}

const name = (what: string) =>
  z.string().regex(NAME, `${what} must start with a letter or digit and contain only letters, digits, "_", "." and "-"`);

const httpUrl = z.string().regex(HTTP_URL, 'must be an http:// or https:// URL');

const filePath = z.string().min(1, 'must not be empty');

const matcherText = z.string().superRefine((text, ctx) => {
  try {
    parseMatcher(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const exactlyOne = (keys: readonly string[]) => (value: Record<string, unknown>) =>
  keys.filter((key) => value[key] !== undefined).length === 1;

const server = z
  .strictObject({
    port: z.int().min(0).max(65535).default(8080).describe('HTTP port of /metrics, /healthz, /readyz and the API; PORT overrides'),
    bodyLimit: z
      .union([z.int().positive(BODY_LIMIT_MESSAGE), z.string().regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)$/i, BODY_LIMIT_MESSAGE)], {
        error: BODY_LIMIT_MESSAGE,
      })
      .default('5mb')
      .describe('largest accepted request body; larger webhook bodies get 413'),
    shutdownGraceSeconds: z.int().min(0).default(30),
  })
  .prefault({});

/** TLS towards Prometheus, Alertmanager or Redis: extra CA, client certificate, or no verification at all. */
const tlsFiles = z
  .strictObject({
    caFile: filePath.optional(),
    certFile: filePath.optional(),
    keyFile: filePath.optional(),
    insecureSkipVerify: z.boolean().default(false),
  })
  .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), 'set certFile and keyFile together');

const HOST_PORT = /^(?:[^\s:/[\]]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/;
const isHostPort = (text: string) => {
  const port = Number(HOST_PORT.exec(text)?.[1]);
  return port >= 1 && port <= 65535;
};
const hostPorts = (what: string) =>
  z.array(z.string().refine(isHostPort, `each ${what} must be host:port (port 1-65535)`)).min(1, `list at least one ${what}`);

const redis = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
      .optional()
      .describe('a single Redis (default redis://127.0.0.1:6379); REDIS_URL overrides; exactly one of url, sentinel, cluster'),
    sentinel: z
      .strictObject({
        name: z.string().min(1).describe('the monitored primary\'s name (sentinel monitor <name> ...)'),
        sentinels: hostPorts('sentinel').describe('host:port of each sentinel; the client asks them in turn'),
        passwordFile: filePath.optional().describe('password of the primary and replicas (requirepass)'),
        sentinelPasswordFile: filePath.optional().describe('password of the sentinels themselves, when they have one'),
        tls: tlsFiles.optional().describe('TLS to the sentinels and to the data nodes'),
      })
      .optional()
      .describe('Redis Sentinel: the client asks the sentinels for the primary and follows failovers'),
    cluster: z
      .strictObject({
        nodes: hostPorts('cluster node').describe('seed nodes; the client discovers the rest'),
        passwordFile: filePath.optional(),
        tls: tlsFiles.optional(),
      })
      .optional()
      .describe('Redis Cluster: every key lives under the {prefix} hash tag, so in one slot'),
    // Used inside a `{prefix}` hash tag and in BullMQ names: braces or colons would break both.
    prefix: z
      .string()
      .regex(NAME, 'must contain only letters, digits, "_", "." and "-"')
      .default('remediator')
      .describe('all keys live under {prefix}; installs can share a Redis'),
    minReplicasAcked: z
      .int()
      .min(0)
      .max(16)
      .default(0)
      .describe('the webhook answers 200 only after WAIT confirms this many replicas hold the decision, 503 otherwise; workers wait for the same before each Kubernetes request that changes something'),
  })
  .refine((r) => [r.url, r.sentinel, r.cluster].filter((v) => v !== undefined).length <= 1, 'set exactly one of url, sentinel and cluster')
  .prefault({});

const kubernetes = z
  .strictObject({
    kubeconfig: filePath.optional().describe('default: in-cluster service account, else $KUBECONFIG, else ~/.kube/config'),
    context: z.string().min(1).optional(),
    requestTimeoutSeconds: z.number().positive().default(15),
  })
  .prefault({});

const tokenRoles = ['alertmanager', 'viewer', 'operator', 'admin'] as const;

const token = z
  .strictObject({
    name: name('token name'),
    role: z.enum(tokenRoles),
    token: z.string().min(1).optional(),
    tokenFile: filePath.optional(),
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  })
  .refine(exactlyOne(['token', 'tokenFile', 'tokenEnv']), 'set exactly one of token, tokenFile, tokenEnv');

const auth = z.strictObject({ tokens: z.array(token).default([]) }).prefault({});

const audit = z
  .strictObject({
    keyFile: filePath.optional().describe('HMAC key of the audit chain; required by serve'),
    maxAge: duration({ positive: true }).default('90d'),
    maxEntries: z.int().positive().default(1_000_000),
  })
  .prefault({});

const namespaces = z
  .strictObject({
    allow: z.array(z.string().regex(DNS_LABEL, 'must be a namespace name')).optional(),
    deny: z.array(z.string().regex(DNS_LABEL, 'must be a namespace name')).optional(),
  })
  .refine(exactlyOne(['allow', 'deny']), 'set exactly one of allow or deny');

const guards = z
  .strictObject({
    maxConcurrentRuns: z.int().positive().default(10).describe('cluster-wide'),
    maxUnschedulableNodes: z
      .union([z.int().min(0, NODE_BUDGET_MESSAGE), z.string().regex(/^(100|[1-9]?\d)%$/, NODE_BUDGET_MESSAGE)], {
        error: NODE_BUDGET_MESSAGE,
      })
      .default(1)
      .describe('int, or "N%" of all nodes rounded up; counts every unschedulable node'),
    namespaces: namespaces.prefault({ deny: ['kube-system'] }),
    optOutLabel: z.string().regex(LABEL_KEY, 'must be a Kubernetes label key').default('remediator.dev/disabled'),
    maxQueueAge: duration({ positive: true }).default('15m'),
    approvalTimeout: duration({ positive: true }).default('30m'),
    manualApproval: z.enum(['none', 'destructive', 'all']).default('none'),
  })
  .prefault({});

const runs = z
  .strictObject({
    retention: duration({ positive: true }).default('28d').describe('run records and their index are kept this long after creation'),
  })
  .prefault({});

/** How to reach Prometheus or Alertmanager: the same auth and TLS keys for both. */
const endpoint = (what: string) =>
  z
    .strictObject({
      url: httpUrl.describe(what),
      bearerTokenFile: filePath.optional().describe('file holding a bearer token; read at every request'),
      basicAuth: z.strictObject({ username: z.string().min(1), passwordFile: filePath }).optional(),
      timeoutSeconds: z.number().positive().max(300).default(10).describe('per request'),
      retries: z.int().min(0).max(5).default(2).describe('after the first attempt, on transport errors, timeouts, 429 and 5xx'),
      tls: tlsFiles.optional(),
    })
    .refine((e) => e.bearerTokenFile === undefined || e.basicAuth === undefined, 'set at most one of bearerTokenFile and basicAuth');

const prometheus = endpoint('Prometheus HTTP API base URL, for precheck and verify queries');

const alertmanager = endpoint('Alertmanager base URL (API v2): is the alert still firing; silences while verifying');

const ui = z
  .strictObject({
    externalUrl: httpUrl.optional().describe('where people reach the review page; links to runs (silence comments) point at /ui/#/runs/ID'),
  })
  .prefault({});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const notification = z
  .strictObject({
    name: name('notification name'),
    type: z.enum(['slack', 'webhook']).describe('slack: incoming-webhook JSON; webhook: {event, run, alert, link} signed with X-Remediator-Signature'),
    url: httpUrl.optional(),
    urlFile: filePath.optional().describe('file holding the URL (a Slack webhook URL is a secret); read at every send'),
    urlEnv: envName.optional(),
    secretFile: filePath.optional().describe('webhook only: HMAC-SHA256 key of the signature; read at every send'),
    secretEnv: envName.optional(),
    timeoutSeconds: z.number().positive().max(60).default(10).describe('per delivery attempt'),
  })
  .refine(exactlyOne(['url', 'urlFile', 'urlEnv']), 'set exactly one of url, urlFile, urlEnv')
  .refine((n) => n.type !== 'webhook' || exactlyOne(['secretFile', 'secretEnv'])(n), 'a webhook needs exactly one of secretFile, secretEnv (its signature key)')
  .refine((n) => n.type !== 'slack' || (n.secretFile === undefined && n.secretEnv === undefined), 'slack takes no secret: its URL is the secret (use urlFile or urlEnv)');

const channelList = z.array(z.string().min(1)).min(1);

const escalate = z
  .strictObject({
    notify: channelList.optional().describe('channels told when the fix does not stick'),
    afterRepeats: z
      .strictObject({ count: z.int().min(2), within: duration({ positive: true }) })
      .optional()
      .describe("escalate when the rule's succeeded runs on one target reach count within this window"),
    playbook: z
      .strictObject({
        name: z.string().min(1),
        params: z.record(z.string(), z.unknown()).default({}),
        approval: z.enum(['none', 'required']).default('required'),
      })
      .optional()
      .describe('a follow-up run on the same target or its owning workload'),
  })
  .refine((e) => e.notify !== undefined || e.playbook !== undefined, 'set notify, playbook or both');

const rule = z.strictObject({
  name: name('rule name').refine(
    (text) => text !== 'none',
    '"none" is reserved: it is the metrics label of decisions no rule made',
  ),
  // At least one: a rule without matchers would act on every alert Alertmanager sends.
  matchers: z.array(matcherText).min(1, 'at least one matcher is required').describe('Alertmanager matcher syntax; =~ and !~ take RE2 regexes, anchored on both ends and matched in linear time, as Alertmanager does'),
  playbook: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}).describe('merged over params derived from the alert'),
  cooldown: duration().optional().describe('per target'),
  maxRunsPerHour: z.int().positive().optional().describe('per rule'),
  approval: z.enum(['none', 'required']).default('none'),
  onResolved: z.enum(['cancel-pending', 'ignore']).default('cancel-pending'),
  dryRun: z.boolean().default(false).describe('shadow mode for this rule'),
  continue: z.boolean().default(false).describe('let later rules match too (Alertmanager routing semantics)'),
  precheck: z.string().min(1).optional().describe('PromQL that must return a result before acting'),
  verify: z
    .strictObject({
      within: duration({ positive: true }).describe('how long the problem may take to go away after the run'),
      query: z.string().min(1).optional().describe('PromQL polled until it returns nothing; without it, Alertmanager is asked about the alert'),
      silence: z.boolean().default(false).describe('silence the alert in Alertmanager while verifying'),
      interval: duration({ positive: true }).optional().describe('time between checks (default: within / 10, from 5s to 1m)'),
    })
    .optional(),
  escalate: escalate.optional().describe('when verification ends not_resolved, or afterRepeats is reached'),
  notify: channelList.optional().describe('channels told when a run awaits approval, starts, succeeds, fails or is blocked'),
});

export const configSchema = z.strictObject({
  server,
  redis,
  kubernetes,
  dryRun: z.boolean().default(false).describe('global dry run; always wins'),
  auth,
  audit,
  guards,
  runs,
  prometheus: prometheus.optional(),
  alertmanager: alertmanager.optional(),
  ui,
  notifications: z.array(notification).default([]),
  rules: z.array(rule).default([]).describe('tried in order; the first match decides unless it sets continue'),
});

/** `remediator.yaml` as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
/** `remediator.yaml` with defaults applied, still in YAML terms (durations as text). */
export type ConfigDocument = z.output<typeof configSchema>;
export const TOKEN_ROLES = tokenRoles;
