import { configJsonSchema } from './config-json-schema.js';

/*
 * docs/configuration.md, generated from the zod schema of remediator.yaml (config-schema.ts, via
 * its JSON Schema): every key with its type, default and description. A key's description is its
 * `.describe()` text; keys without one take theirs from KEY_NOTES below, and a key with neither
 * makes the generator throw, so a new key cannot reach the docs undescribed. Rules the JSON Schema
 * cannot say (exactly one of…, cross-entry checks) are SECTION_NOTES.
 *
 * Regenerate: node --import tsx scripts/gen-reference-docs.ts
 * test/unit/docs/generated-docs.test.ts fails while docs/configuration.md differs from this.
 */

type Json = Record<string, any>;

/** Descriptions of keys whose schema has no `.describe()` (prefer adding one there). */
const KEY_NOTES: Record<string, string> = {
  server: 'the HTTP server of every process',
  'server.shutdownGraceSeconds': 'on SIGTERM, the process exits within this (at least 1 s); running playbook steps may go on until its closing phases (up to 3 s), then they are aborted (the job is retried elsewhere and resumes)',
  redis: 'the Redis that holds the working state, the queue and the audit log',
  'redis.sentinel.tls.caFile': 'CA bundle to trust',
  'redis.sentinel.tls.certFile': 'client certificate (with keyFile)',
  'redis.sentinel.tls.keyFile': 'client key (with certFile)',
  'redis.sentinel.tls.insecureSkipVerify': 'do not verify the server certificate (tests only)',
  'redis.cluster.passwordFile': 'password of the cluster nodes (requirepass)',
  'redis.cluster.tls': 'TLS to every cluster node',
  'redis.cluster.tls.caFile': 'CA bundle to trust',
  'redis.cluster.tls.certFile': 'client certificate (with keyFile)',
  'redis.cluster.tls.keyFile': 'client key (with certFile)',
  'redis.cluster.tls.insecureSkipVerify': 'do not verify the server certificate (tests only)',
  kubernetes: 'how the worker reaches the Kubernetes API; no usable configuration = serve refuses to start (no localhost fallback)',
  'kubernetes.context': 'kubeconfig context (default: its current context)',
  'kubernetes.requestTimeoutSeconds': 'per Kubernetes API request',
  auth: 'bearer tokens of the HTTP API',
  'auth.tokens': 'each with a name (audited as the actor) and a role',
  'auth.tokens[].name': 'who this token is: the actor in audit entries',
  'auth.tokens[].role': 'alertmanager (POST alerts only), viewer (read), operator (viewer + manual runs, approve, reject, cancel, ack), admin (operator + pause/resume + bypassGuards)',
  'auth.tokens[].token': 'the token inline (tests and demos; prefer tokenFile or tokenEnv)',
  'auth.tokens[].tokenFile': 'file holding the token',
  'auth.tokens[].tokenEnv': 'environment variable holding the token',
  audit: 'the audit log: an HMAC-chained Redis Stream',
  'audit.maxAge': 'entries older than this are trimmed from the oldest end (the trimmed head becomes the anchor)',
  'audit.maxEntries': 'at most this many entries are kept',
  guards: 'global safety budgets; manual runs obey them too',
  'guards.namespaces': 'which namespaces pod and workload targets may be in',
  'guards.namespaces.allow': 'only these namespaces',
  'guards.namespaces.deny': 'never these namespaces',
  'guards.optOutLabel': '"true" on a node, workload, pod or namespace = never touched',
  'guards.maxQueueAge': 'a queued run that has not started within this (from enqueue or approval) ends expired',
  'guards.approvalTimeout': 'a run awaiting approval longer than this ends expired',
  'guards.manualApproval': 'manual runs that need a second operator: none, destructive playbooks, or all',
  runs: 'run records',
  prometheus: 'for precheck and verify queries; absent = rules cannot use them',
  'prometheus.basicAuth': 'instead of bearerTokenFile',
  'prometheus.basicAuth.username': 'basic auth user',
  'prometheus.basicAuth.passwordFile': 'file holding the password; read at every request',
  'prometheus.tls': 'TLS to Prometheus',
  'prometheus.tls.caFile': 'CA bundle to trust',
  'prometheus.tls.certFile': 'client certificate (with keyFile)',
  'prometheus.tls.keyFile': 'client key (with certFile)',
  'prometheus.tls.insecureSkipVerify': 'do not verify the server certificate (tests only)',
  alertmanager: 'for verification without a query and silences; the same auth and TLS keys as prometheus',
  'alertmanager.basicAuth': 'instead of bearerTokenFile',
  'alertmanager.basicAuth.username': 'basic auth user',
  'alertmanager.basicAuth.passwordFile': 'file holding the password; read at every request',
  'alertmanager.tls': 'TLS to Alertmanager',
  'alertmanager.tls.caFile': 'CA bundle to trust',
  'alertmanager.tls.certFile': 'client certificate (with keyFile)',
  'alertmanager.tls.keyFile': 'client key (with certFile)',
  'alertmanager.tls.insecureSkipVerify': 'do not verify the server certificate (tests only)',
  ui: 'the review page',
  notifications: 'channels rules can notify (`notify`, `escalate.notify`); secrets from files or the environment, never logged',
  'notifications[].name': 'what rules refer to',
  'notifications[].url': 'the URL inline (a Slack webhook URL is a secret: prefer urlFile or urlEnv)',
  'notifications[].urlEnv': 'environment variable holding the URL',
  'notifications[].secretEnv': 'webhook only: environment variable holding the signature key',
  'rules[].name': 'unique; the `rule` label of metrics and audit entries',
  'rules[].playbook': 'a registered playbook (see docs/playbooks.md)',
  'rules[].approval': 'required: runs wait for an operator to approve',
  'rules[].onResolved': 'cancel-pending: a resolved alert cancels its runs that have not made their first mutation; ignore: leaves them',
  'rules[].verify': 'after a run succeeded: did the problem go away?',
  'rules[].escalate.afterRepeats.count': 'succeeded runs on one target',
  'rules[].escalate.afterRepeats.within': 'the window they are counted in',
  'rules[].escalate.playbook.name': 'the follow-up playbook (it must act on the same kind of target: a node, or a workload)',
  'rules[].escalate.playbook.params': 'merged over params from the alert and the target',
  'rules[].escalate.playbook.approval': 'whether the follow-up waits for an operator',
};

/** What the JSON Schema cannot say, per top-level key. */
const SECTION_NOTES: Record<string, string[]> = {
  auth: ['Each token needs exactly one of `token`, `tokenFile`, `tokenEnv`. Token names are unique. Tokens are compared in constant time and never logged.'],
  audit: ['`serve` refuses to start without `keyFile`; `remediator demo` and the tests generate a key.'],
  guards: ['`namespaces` takes exactly one of `allow` or `deny`; it applies to pod and workload targets.'],
  prometheus: ['At most one of `bearerTokenFile` and `basicAuth`; `tls.certFile` and `tls.keyFile` go together. `serve` refuses to start when a configured secret or TLS file is missing.'],
  alertmanager: ['At most one of `bearerTokenFile` and `basicAuth`; `tls.certFile` and `tls.keyFile` go together.'],
  notifications: [
    'Each channel needs exactly one of `url`, `urlFile`, `urlEnv`. A `webhook` needs exactly one of `secretFile`, `secretEnv` (its signature key); a `slack` channel takes none (its URL is the secret). Names are unique.',
  ],
  rules: [
    'Names are unique; `none` is reserved (the metrics label of decisions no rule made). `playbook` must be registered, and `params` must pass its schema with the params the alert supplies treated as present. `notify` and `escalate.notify` name channels of `notifications`.',
    '`precheck` and `verify.query` need `prometheus`; `verify` without `query`, and `silence: true`, need `alertmanager`. A `{{ labels.NAME }}` placeholder must stand inside a quoted string and name a label the rule\'s matchers require or the playbook reads.',
    '`escalate` needs `verify` or `afterRepeats` to ever happen, and sets `notify`, `playbook` or both.',
  ],
};

/** Friendly names of the patterns the schema uses. */
const PATTERNS: [RegExp, string][] = [
  [/^\^\\d\+\(ms\|s\|m\|h\|d\)\$$/, 'duration (`30s`, `10m`, `1h`, `7d`)'],
  [/^\^https\?:/, 'http(s) URL'],
  [/^\^rediss\?:/, 'redis:// or rediss:// URL'],
  [/^\^\[A-Za-z_\]\[A-Za-z0-9_\]\*\$$/, 'environment variable name'],
  [/^\^\[A-Za-z0-9\]\[A-Za-z0-9_\.-\]\*\$$/, 'name (letters, digits, `_`, `.`, `-`)'],
  [/^\^\[a-z0-9\]\(\[-a-z0-9\]\{0,61\}\[a-z0-9\]\)\?\$$/, 'namespace name'],
  [/^\^\(\[a-z0-9\]/, 'label key'],
  [/^\^\\d\+\(\\\.\\d\+\)\?\\s\*\(b\|kb\|mb\|gb\)\$$/i, 'size (`512kb`, `5mb`)'],
  [/^\^\(100\|/, 'percentage (`10%`)'],
];

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function bounds(s: Json): string {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
  const hi = s.maximum !== undefined && Math.abs(s.maximum) !== MAX_SAFE ? s.maximum : undefined;
  const low = lo === undefined || (typeof lo === 'number' && Math.abs(lo) === MAX_SAFE) ? undefined : lo;
  if (low === undefined && hi === undefined) return '';
  if (typeof low === 'string') return hi === undefined ? ` ${low}` : ` ${low}, ≤${hi}`;
  if (low !== undefined && hi !== undefined) return ` ${low}–${hi}`;
  return low !== undefined ? ` ≥${low}` : ` ≤${hi}`;
}

/** A short human type: `integer 0–65535`, `duration (…)`, `none | destructive | all`, `list of string`. */
export function typeText(s: Json): string {
  if (s.anyOf) return (s.anyOf as Json[]).map(typeText).join(', or ');
  if (s.enum) return (s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(' | ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  switch (s.type) {
    case 'string': {
      if (s.pattern) {
        const known = PATTERNS.find(([re]) => re.test(s.pattern as string));
        return known ? known[1] : `string matching \`${s.pattern}\``;
      }
      return s.minLength ? 'string (not empty)' : 'string';
    }
    case 'integer':
      return `integer${bounds(s)}`;
    case 'number':
      return `number${bounds(s)}`;
    case 'boolean':
      return 'boolean';
    case 'array':
      return `list of ${s.items ? typeText(s.items as Json) : 'anything'}${s.minItems ? ` (at least ${s.minItems})` : ''}`;
    case 'object':
      if (s.properties) return 'object';
      if (s.additionalProperties && Object.keys(s.additionalProperties as Json).length === 0) return 'map of anything';
      return s.additionalProperties ? `map of ${typeText(s.additionalProperties as Json)}` : 'object';
    default:
      return 'anything';
  }
}

function defaultText(s: Json): string {
  if (!('default' in s)) return '';
  const d = s.default;
  if (d !== null && typeof d === 'object' && Object.keys(d).length === 0) return '';
  return `\`${typeof d === 'string' ? d : JSON.stringify(d)}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

interface Row {
  key: string;
  type: string;
  required: boolean;
  default: string;
  description: string;
}

/** Every key under `schema` (an object, or a list of objects), depth first. */
function rows(schema: Json, path: string, required: boolean, out: Row[]): void {
  const description = (schema.description as string | undefined) ?? KEY_NOTES[path];
  if (description === undefined) throw new Error(`config key ${path} has no description: add .describe() in config-schema.ts or a line to KEY_NOTES in config-reference.ts`);
  out.push({ key: path, type: typeText(schema), required, default: defaultText(schema), description });
  const object = schema.type === 'object' && schema.properties ? schema : schema.type === 'array' && (schema.items as Json | undefined)?.properties ? (schema.items as Json) : undefined;
  if (!object) return;
  const base = object === schema ? path : `${path}[]`;
  const req = new Set((object.required as string[] | undefined) ?? []);
  for (const [key, child] of Object.entries(object.properties as Record<string, Json>)) rows(child, `${base}.${key}`, req.has(key), out);
}

/** The whole of docs/configuration.md. */
export function configReference(): string {
  const root = configJsonSchema() as Json;
  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/config-schema.ts by src/config/config-reference.ts.',
    '     Do not edit: run `node --import tsx scripts/gen-reference-docs.ts`. -->',
    '',
    'Remediator reads one YAML file: the path given with `--config`, else `REMEDIATOR_CONFIG`, else',
    '`./remediator.yaml`. `PORT` overrides `server.port` and `REDIS_URL` overrides `redis.url`.',
    'Relative file paths resolve against the directory of the config file. Parsing is strict:',
    'unknown keys, unknown playbooks, params a playbook rejects, bad matchers and bad durations',
    'stop the process with every problem and its path (`rules[1].matchers[0]: …`).',
    '`remediator validate` checks a file without starting anything; `remediator schema` prints',
    'the JSON Schema this page is generated from. `remediator.example.yaml` is a complete,',
    'commented example.',
    '',
    'Durations are a whole number and a unit: `ms`, `s`, `m`, `h`, `d` (`30s`, `10m`, `1h`, `7d`).',
    'A key marked *required* must be set whenever the object that holds it is present. `[]`',
    'stands for each element of a list.',
    '',
  ];
  for (const [section, schema] of Object.entries(root.properties as Record<string, Json>)) {
    const out: Row[] = [];
    rows(schema, section, ((root.required as string[] | undefined) ?? []).includes(section), out);
    lines.push(`## \`${section}\``, '');
    lines.push(cell(out[0]!.description).replace(/^./, (c) => c.toUpperCase()) + '.', '');
    for (const note of SECTION_NOTES[section] ?? []) lines.push(note, '');
    lines.push('| key | type | default | description |', '|---|---|---|---|');
    for (const r of out) {
      const type = `${cell(r.type)}${r.required ? ' *(required)*' : ''}`;
      lines.push(`| \`${r.key}\` | ${type} | ${cell(r.default)} | ${cell(r.description)} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** Every key path the reference lists (`server.port`, `rules[].verify.within`…). */
export function configKeys(): string[] {
  const root = configJsonSchema() as Json;
  const out: Row[] = [];
  for (const [section, schema] of Object.entries(root.properties as Record<string, Json>)) rows(schema, section, false, out);
  return out.map((r) => r.key);
}
