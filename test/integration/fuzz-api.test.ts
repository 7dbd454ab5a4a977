/**
 * Fuzzing the two write endpoints that take outside input (issue 17): the Alertmanager webhook
 * (`POST /api/v1/alerts`) and manual runs (`POST /api/v1/runs`), with ≥ 10,000 fast-check
 * payloads: random JSON, webhook- and run-shaped bodies with mutated fields (wrong types, huge
 * strings, nesting 1,000+ deep, unicode with lone surrogates, `__proto__` / `constructor` /
 * `prototype` keys), hostile names in the labels and params that become Kubernetes names
 * (`../x`, `a/b`, `..`, 300 characters, uppercase, empty), raw bodies that are not JSON, wrong
 * content types and encodings.
 *
 * Contract: every answer is 2xx or 4xx, the process keeps answering, nothing that is not a valid
 * Kubernetes name ever reaches the (simulated) Kubernetes API, and memory after a forced GC stays
 * within 10 % of what it was after a warm-up. The rules route the hostile labels into real
 * playbooks (restart-oom-pod by namespace/pod, scale-replicas by namespace/deployment,
 * drain-gpu-node by node), and automation is not in dry-run mode, so a name that slipped through
 * validation would show up as a request; valid "canary" names (`fz-…`) prove that path is live.
 *
 * FUZZ_SEED=<n> replays a run (the seed is printed in the summary and in every failure).
 */
import { Agent, request as httpRequest } from 'node:http';
import { gzipSync, deflateSync } from 'node:zlib';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TOKENS, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { playbooks } from '../../playbooks/index.js';
import { toWellFormed } from '../../src/http/json-body.js';

// A full collection on demand without --expose-gc on the shared config (as in audit-export.test.ts).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
setFlagsFromString('--no-expose-gc');

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const WARMUP = 500;
const MAIN = 10_000;
const BATCH = 250;
const IN_FLIGHT = 8;
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The oracle for Kubernetes names.

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const isDnsLabel = (s: string) => s.length <= 63 && DNS_LABEL.test(s);
const isDnsSubdomain = (s: string) => s.length <= 253 && DNS_SUBDOMAIN.test(s);

/** Valid names that exist nowhere in the cluster: a request for one proves a label or param reached it. */
const CANARY = /^fz-[a-z0-9]+$/;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** What is wrong with one request the simulated API received, or undefined. */
function badKubeRequest(r: { method: string; path: string; query: Record<string, string> }): string | undefined {
  const segments = r.path.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const raw = segments[i]!;
    const seg = decode(raw);
    const afterNamespaces = segments[i - 1] === 'namespaces';
    if (afterNamespaces ? !isDnsLabel(raw) : !isDnsSubdomain(raw)) return `segment ${JSON.stringify(raw)} is not a valid ${afterNamespaces ? 'namespace' : 'name'}`;
    if (invalidNames.has(seg) || invalidNames.has(raw)) return `segment ${JSON.stringify(raw)} is a generated invalid name`;
  }
  for (const [key, value] of Object.entries(r.query)) {
    for (const token of value.split(/[,=!()\s]+/)) {
      if (token !== '' && invalidNames.has(token)) return `query ${key}=${JSON.stringify(value)} carries the generated invalid name ${JSON.stringify(token)}`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Payload building blocks.

/** Text inserted verbatim into a serialized body (nesting deeper than JSON.stringify should recurse). */
class Raw {
  constructor(readonly text: string) {}
}

/** JSON text of `value`, with Raw parts spliced in. */
function serialize(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `\u0001RAW${raws.length - 1}\u0001`;
    }
    return v;
  });
  if (text === undefined) return 'null';
  return raws.length === 0 ? text : text.replace(/"\\u0001RAW(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]!);
}

/** An object whose keys are all own properties, `__proto__` included (an object literal would set the prototype). */
function own(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const DELETE = Symbol('delete');

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

const HOSTILE_NAMES = [
  '../x', 'a/b', '..', '.', '', ' ', '/', '//', 'x/..', '../../etc/passwd', '..%2fx', '%2e%2e', 'a%2Fb', 'a?b=c', 'a#b', 'a;b', 'a b', 'a\tb',
  'x\u0000', '\u0000', 'a\\b', 'LLM-API', 'Llm-api', 'llm_api', '-llm', 'llm-', '.llm', 'llm.', 'a..b', 'llm-api\n', '\u202ellm', 'ｌｌｍ-api',
  'llm\u200b', 'é', '\uD800', '\uDFFF', 'a\uD83D', '\uDE00a', ...PROTO_KEYS, '*', '$(id)', "x'; DROP TABLE runs;--", '{{ labels.pod }}', 'kube-system/x',
  'a'.repeat(64), 'b'.repeat(254), 'c'.repeat(300), `${'a.'.repeat(127)}a`, 'gpu-node-3/../../..', 'ml-serving/pods/x', 'x:9100', '[::1]:9100', 'x:', '0x', '-', 'ﬁ',
];

const canaryArb = fc.stringMatching(/^fz-[a-z0-9]{1,10}$/);

/** Any UTF-16 code unit: lone surrogates included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const nameUnit = fc.constantFrom('a', 'z', 'Z', '0', '9', '-', '.', '/', '_', '%', ' ', ':', '\u0000', 'é', '\uD800');

/**
 * Hostile names: the fixed ones, random ones (any UTF-16 unit, any code point, name-ish characters),
 * too long ones. Drawn from a pool made before the warm-up, so the oracle's list of them (every
 * name in the pool that is no DNS subdomain, hence valid in no name position) does not grow while
 * memory is measured.
 */
const NAME_POOL = [
  ...HOSTILE_NAMES,
  ...fc.sample(
    fc.oneof(
      { arbitrary: fc.string({ unit: anyUnit, maxLength: 30 }), weight: 2 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }), weight: 1 },
      { arbitrary: fc.string({ unit: nameUnit, maxLength: 70 }), weight: 3 },
    ),
    { seed: SEED, numRuns: 6000 },
  ),
  ...Array.from({ length: 67 }, (_, i) => `${'n'.repeat(251 + i)}-fz`), // 254 to 320 characters
  ...Array.from({ length: 17 }, (_, i) => 'm'.repeat(64 + i)), // a name, but too long for a namespace
];
const invalidNames = new Set(NAME_POOL.filter((n) => n !== '' && !isDnsSubdomain(n)));

/** Values for label/param positions that become Kubernetes names; canaries are fresh each time. */
const nameArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_NAMES), weight: 4 },
  { arbitrary: fc.constantFrom(...NAME_POOL), weight: 5 },
  { arbitrary: canaryArb, weight: 2 },
);

const namespaceArb = fc.oneof({ arbitrary: nameArb, weight: 4 }, { arbitrary: fc.constant('ml-serving'), weight: 1 });

/** 10 kB to ~1 MB: most under the 256 kB body limit (parsed), the rest over it (413). */
const hugeArb = fc
  .tuple(fc.oneof({ arbitrary: fc.integer({ min: 10_000, max: 200_000 }), weight: 3 }, { arbitrary: fc.integer({ min: 262_144, max: 1_100_000 }), weight: 1 }), fc.constantFrom('x', 'é', '\uD83D\uDE00', '\\', '"', '\u0000', '\uD800', '-'))
  .map(([bytes, c]) => c.repeat(Math.ceil(bytes / Buffer.byteLength(JSON.stringify(c).slice(1, -1)))));

/** Nesting 1,000 to 20,000 deep, as raw JSON text. */
const deepArb = fc.tuple(fc.integer({ min: 1000, max: 20_000 }), fc.constantFrom('array', 'object', 'proto', 'mixed')).map(([d, kind]) => {
  switch (kind) {
    case 'array':
      return new Raw(`${'['.repeat(d)}${']'.repeat(d)}`);
    case 'object':
      return new Raw(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`);
    case 'proto':
      return new Raw(`${'{"__proto__":'.repeat(d)}{"polluted":true}${'}'.repeat(d)}`);
    default:
      return new Raw(`${'[{"constructor":'.repeat(d)}"x"${'}]'.repeat(d)}`);
  }
});

const smallJson = fc.jsonValue({ maxDepth: 3 });

/** A value of the wrong type for almost any field. */
const wrongArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.integer(), weight: 2 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.boolean(), weight: 1 },
  { arbitrary: fc.constant(null), weight: 2 },
  { arbitrary: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), weight: 1 },
  { arbitrary: smallJson, weight: 2 },
  { arbitrary: fc.constantFrom(...PROTO_KEYS).map((k) => own([[k, { polluted: true }]])), weight: 1 },
);

const keyArb = fc.oneof(
  { arbitrary: fc.constantFrom(...PROTO_KEYS), weight: 3 },
  { arbitrary: fc.string({ unit: anyUnit, maxLength: 12 }), weight: 2 },
  { arbitrary: fc.constantFrom('namespace', 'pod', 'deployment', 'statefulset', 'node', 'instance', 'container', 'alertname', ''), weight: 2 },
);

/** A string, sometimes a hostile name (huge strings and deep nesting have cases of their own: they are costly to make and send). */
const stringishArb = fc.oneof({ arbitrary: fc.string({ unit: anyUnit, maxLength: 40 }), weight: 2 }, { arbitrary: nameArb, weight: 1 });

const ALERTNAMES = ['KubePodOOMKilled', 'GPUNodeOverheating', 'LLMHighLatencyP95'];
const NAME_LABELS = ['namespace', 'pod', 'deployment', 'statefulset', 'node', 'kubernetes_node', 'Hostname', 'hostname', 'instance', 'container'];

const labelsArb = fc
  .tuple(
    fc.oneof({ arbitrary: fc.constantFrom(...ALERTNAMES), weight: 8 }, { arbitrary: stringishArb, weight: 1 }),
    fc.constantFrom('critical', 'page', 'warning'),
    fc.subarray(NAME_LABELS, { minLength: 1 }),
    fc.array(nameArb, { minLength: NAME_LABELS.length, maxLength: NAME_LABELS.length }),
    namespaceArb,
    fc.array(fc.tuple(keyArb, stringishArb), { maxLength: 3 }),
  )
  .map(([alertname, severity, present, names, namespace, extra]) => {
    const entries: [string, unknown][] = [['alertname', alertname], ['severity', severity]];
    present.forEach((label, i) => entries.push([label, label === 'namespace' ? namespace : label === 'instance' ? `${names[i]!}:9100` : names[i]!]));
    return own([...entries, ...extra]);
  });

const badTimestampArb = fc.constantFrom(
  '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-28T24:00:00Z', '2026-11-28T23:03:49.035+25:00', '', 'now', '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:60Z', `2026-11-28T23:03:49.${'9'.repeat(5000)}Z`, '2026-11-28 23:03:49Z', '+275760-09-13T00:00:00Z', '2026-11-28T23:03:49.035\u0000Z',
);

const goodAlertArb = fc.record({
  status: fc.constantFrom('firing', 'firing', 'firing', 'resolved'),
  labels: labelsArb,
  annotations: fc.oneof(fc.constant({ summary: 'fuzz' }), fc.array(fc.tuple(keyArb, stringishArb), { maxLength: 3 }).map(own)),
  startsAt: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  endsAt: fc.constant('0001-01-01T00:00:00Z'),
  generatorURL: fc.constantFrom('http://prometheus:9090/graph', '', 'javascript:alert(1)'),
  fingerprint: fc.stringMatching(/^[0-9a-f]{16}$/),
});

const ALERT_FIELDS = ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint', ...PROTO_KEYS];

const mutationArb = fc.tuple(
  fc.constantFrom(...ALERT_FIELDS),
  fc.oneof(
    { arbitrary: wrongArb, weight: 4 },
    { arbitrary: fc.constant(DELETE), weight: 2 },
    { arbitrary: stringishArb, weight: 2 },
    { arbitrary: badTimestampArb, weight: 2 },
    { arbitrary: fc.integer({ min: 200, max: 400 }).map((n) => 'f'.repeat(n)), weight: 1 },
  ),
);

const alertArb = fc.oneof(
  { arbitrary: goodAlertArb, weight: 5 },
  {
    arbitrary: fc.tuple(goodAlertArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([alert, mutations]) => {
      const entries = new Map<string, unknown>(Object.entries(alert));
      for (const [field, value] of mutations) {
        if (value === DELETE) entries.delete(field);
        else entries.set(field, value);
      }
      return own([...entries]);
    }),
    weight: 4,
  },
  { arbitrary: wrongArb, weight: 1 },
);

const envelopeArb = fc
  .tuple(
    fc.array(alertArb, { maxLength: 5 }),
    fc.record({ receiver: fc.oneof(fc.constant('remediator'), wrongArb, stringishArb), status: fc.oneof(fc.constantFrom('firing', 'resolved'), wrongArb), groupKey: fc.oneof(fc.constant('{}:{}'), wrongArb), truncatedAlerts: fc.oneof(fc.nat(), wrongArb), version: fc.constant('4') }, { requiredKeys: [] }),
    fc.option(wrongArb, { freq: 6, nil: undefined }),
    fc.boolean(),
    fc.array(fc.tuple(keyArb, wrongArb), { maxLength: 2 }),
  )
  .map(([alerts, fields, alertsReplacement, dropAlerts, extra]) => {
    const entries: [string, unknown][] = Object.entries(fields);
    if (alertsReplacement !== undefined) entries.push(['alerts', alertsReplacement]);
    else if (!dropAlerts || alerts.length > 0) entries.push(['alerts', alerts]);
    return own([...entries, ...extra]);
  });

/** A good alert with one place (a field, a label, a label's key) replaced by `value`. */
function alertWith(alert: Record<string, unknown>, where: number, value: unknown): Record<string, unknown> {
  const labels = Object.entries(alert.labels as Record<string, unknown>);
  switch (where % 6) {
    case 0:
      return own([...Object.entries(alert), ['labels', own([...labels, ['pod', value]])]]);
    case 1:
      return own([...Object.entries(alert), ['labels', own([...labels, ['namespace', value]])]]);
    case 2:
      return own([...Object.entries(alert), ['labels', typeof value === 'string' ? own([...labels, [value, 'x']]) : value]]);
    case 3:
      return own([...Object.entries(alert), ['annotations', own([['summary', value]])]]);
    case 4:
      return own([...Object.entries(alert), ['fingerprint', value]]);
    default:
      return own([...Object.entries(alert), ['startsAt', value]]);
  }
}

const deepWebhookArb = fc.tuple(deepArb, goodAlertArb, fc.nat()).map(([deep, alert, where]) =>
  serialize(where % 8 === 6 ? deep : where % 8 === 7 ? { alerts: deep } : { alerts: [alertWith(alert, where, deep)] }),
);
const hugeWebhookArb = fc.tuple(hugeArb, goodAlertArb, fc.nat()).map(([huge, alert, where]) =>
  serialize(where % 8 === 6 ? { receiver: huge, alerts: [alert] } : where % 8 === 7 ? { groupKey: huge, alerts: [] } : { alerts: [alertWith(alert, where, huge)] }),
);

/** Many tiny alerts in one body (each its own invalid_params decision). */
const manyAlertsArb = fc.tuple(fc.integer({ min: 500, max: 20_000 }), fc.constantFrom('1', '{}', 'null', '{"fingerprint":"x"}')).map(([n, el]) => new Raw(`{"alerts":[${`${el},`.repeat(n - 1)}${el}]}`));

// ---------------------------------------------------------------------------------------------
// Cases: one request each.

interface Case {
  endpoint: 'webhook' | 'runs';
  body: string | Uint8Array;
  contentType?: string | null;
  encoding?: string;
  token?: string;
  what: string;
}

const VALID_NOTIFICATION = serialize(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'fz-valid-0' } }]));
// Decompresses to 8 MB, past any body limit, from an 8 kB body.
const GZIP_BOMB = gzipSync(Buffer.alloc(8 * MB, 0x20), { level: 9 });
const GZIPPED = gzipSync(VALID_NOTIFICATION);
const DEFLATED = deflateSync(VALID_NOTIFICATION);

const contentTypeArb = fc.constantFrom<string | null>(
  'application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=utf-8', 'application/json; charset=', 'application/json;;;',
  'garbage/', '*/*', '', null,
);

const RAW_TEXTS = [
  '', ' ', 'null', 'true', '0', '-0', '1e999', '"x"', '[]', '{}', '{"alerts":null}', '{"alerts":{}}', '{"alerts":"[]"}', '\uFEFF{"alerts":[]}', '{"alerts":[],}',
  "{'alerts':[]}", '{"alerts":[]}garbage', 'NaN', '{"__proto__":{"polluted":true},"alerts":[]}', '{"constructor":{"prototype":{"polluted":true}},"alerts":[]}',
  '{"alerts":[{"__proto__":{"status":"firing"}}]}', '{"alerts":[{"labels":{"__proto__":"x","alertname":"KubePodOOMKilled"}}]}', '{"alerts":[1,2,3', '{"a":"\\ud800"}',
  '{"alerts":[],"alerts":{}}', '{"playbook":"scale-replicas","playbook":1}', '{"params":{"__proto__":{"namespace":"ml-serving"}}}', `{"x":"${'\\u0000'.repeat(1000)}"}`,
];

const rawCaseArb = (endpoint: Case['endpoint']): fc.Arbitrary<Case> =>
  fc
    .tuple(
      fc.oneof(
        { arbitrary: fc.constantFrom(...RAW_TEXTS).map((t): [string | Uint8Array, string] => [t, 'raw constant']), weight: 4 },
        { arbitrary: fc.string({ unit: anyUnit, maxLength: 200 }).map((t): [string | Uint8Array, string] => [t, 'random text']), weight: 2 },
        { arbitrary: fc.nat().map((i): [string | Uint8Array, string] => [VALID_NOTIFICATION.slice(0, i % VALID_NOTIFICATION.length), 'truncated JSON']), weight: 2 },
        { arbitrary: fc.uint8Array({ maxLength: 200 }).map((b): [string | Uint8Array, string] => [b, 'random bytes']), weight: 2 },
        { arbitrary: fc.constant<[string | Uint8Array, string]>([Buffer.from(VALID_NOTIFICATION, 'utf16le'), 'utf-16 JSON']), weight: 1 },
        { arbitrary: fc.constant<[string | Uint8Array, string]>([Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]), 'invalid UTF-8']), weight: 1 },
      ),
      contentTypeArb,
    )
    .map(([[body, what], contentType]) => ({ endpoint, body, contentType, what: `${what} as ${String(contentType)}` }));

const encodedCaseArb = (endpoint: Case['endpoint']): fc.Arbitrary<Case> =>
  fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress', 'x-fuzz', 'gzip, gzip', 'GZIP').chain((encoding) =>
    fc.oneof(
      fc.constant<Case>({ endpoint, body: GZIPPED, encoding, what: `gzip body as ${encoding}` }),
      fc.constant<Case>({ endpoint, body: DEFLATED, encoding, what: `deflate body as ${encoding}` }),
      fc.constant<Case>({ endpoint, body: GZIP_BOMB, encoding, what: `8 MB gzip bomb as ${encoding}` }),
      fc.uint8Array({ maxLength: 100 }).map((b): Case => ({ endpoint, body: b, encoding, what: `garbage as ${encoding}` })),
    ),
  );

const webhookCaseArb: fc.Arbitrary<Case> = fc.oneof(
  { arbitrary: envelopeArb.map((b): Case => ({ endpoint: 'webhook', body: serialize(b), what: 'notification' })), weight: 30 },
  { arbitrary: smallJson.map((b): Case => ({ endpoint: 'webhook', body: serialize(b), what: 'random JSON' })), weight: 4 },
  { arbitrary: deepWebhookArb.map((body): Case => ({ endpoint: 'webhook', body, what: 'deep nesting' })), weight: 1 },
  { arbitrary: hugeWebhookArb.map((body): Case => ({ endpoint: 'webhook', body, what: 'huge string' })), weight: 1 },
  { arbitrary: manyAlertsArb.map((b): Case => ({ endpoint: 'webhook', body: b.text, what: 'many tiny alerts' })), weight: 1 },
  { arbitrary: rawCaseArb('webhook'), weight: 5 },
  { arbitrary: encodedCaseArb('webhook'), weight: 1 },
);

const PLAYBOOK_NAMES = playbooks.map((p) => p.name);
const intArb = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer(), fc.double(), fc.constantFrom('6', '1e3', 'six', null, true, -0, 2 ** 53));

const paramsArb = fc
  .tuple(
    fc.record(
      {
        namespace: fc.oneof({ arbitrary: namespaceArb, weight: 6 }, { arbitrary: wrongArb, weight: 1 }),
        name: fc.oneof({ arbitrary: nameArb, weight: 6 }, { arbitrary: wrongArb, weight: 1 }),
        pod: fc.oneof({ arbitrary: nameArb, weight: 6 }, { arbitrary: wrongArb, weight: 1 }),
        node: fc.oneof({ arbitrary: nameArb, weight: 6 }, { arbitrary: wrongArb, weight: 1 }),
        container: fc.oneof({ arbitrary: nameArb, weight: 6 }, { arbitrary: wrongArb, weight: 1 }),
        kind: fc.oneof(fc.constantFrom('Deployment', 'StatefulSet', 'Pod', 'deployment'), wrongArb),
        replicas: intArb,
        step: intArb,
        maxReplicas: intArb,
        minReplicas: intArb,
        timeoutSeconds: intArb,
        waitForReadySeconds: fc.oneof(fc.constant(0), intArb),
        deleteEmptyDirData: fc.oneof(fc.boolean(), wrongArb),
      },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(keyArb, wrongArb), { maxLength: 2 }),
  )
  .map(([fields, extra]) => own([...Object.entries(fields), ...extra]));

/** Well-formed except for the names: gets past the types to the name checks, or (canaries) to a run. */
const skeletonRunArb = fc
  .tuple(fc.constantFrom(...PLAYBOOK_NAMES), namespaceArb, nameArb, fc.boolean(), fc.option(fc.constantFrom(...PROTO_KEYS)))
  .map(([playbook, namespace, name, dryRun, protoKey]) => {
    const params: [string, unknown][] =
      playbook === 'scale-replicas' ? [['namespace', namespace], ['name', name], ['maxReplicas', 6], ['waitForReadySeconds', 0]]
      : playbook === 'drain-gpu-node' || playbook === 'uncordon-node' ? [['node', name]]
      : [['namespace', namespace], ['pod', name]];
    if (protoKey) params.push([protoKey, { namespace: 'ml-serving', name: 'llm-api', node: 'gpu-node-3' }]);
    return own([['playbook', playbook], ['params', own(params)], ['reason', 'fuzz'], ['dryRun', dryRun]]);
  });

const wildRunArb = fc
  .record(
    {
      playbook: fc.oneof({ arbitrary: fc.constantFrom(...PLAYBOOK_NAMES), weight: 4 }, { arbitrary: nameArb, weight: 1 }, { arbitrary: wrongArb, weight: 1 }),
      params: fc.oneof({ arbitrary: paramsArb, weight: 6 }, { arbitrary: wrongArb, weight: 1 }),
      reason: fc.oneof({ arbitrary: fc.constant('fuzz'), weight: 3 }, { arbitrary: stringishArb, weight: 1 }, { arbitrary: wrongArb, weight: 1 }),
      dryRun: fc.oneof({ arbitrary: fc.boolean(), weight: 4 }, { arbitrary: wrongArb, weight: 1 }),
      bypassGuards: fc.oneof(fc.constant(false), wrongArb, fc.constant(true)),
      precheck: fc.oneof(fc.constantFrom('up', '{{ labels.x }}', ''), stringishArb, wrongArb),
    },
    { requiredKeys: [] },
  )
  .chain((fields) => fc.array(fc.tuple(keyArb, wrongArb), { maxLength: 2 }).map((extra) => own([...Object.entries(fields), ...extra])));

/** A well-formed scale-replicas request with one place replaced by `value`. */
function runWith(where: number, value: unknown): string {
  const params: [string, unknown][] = [['namespace', 'ml-serving'], ['name', 'fz-deep'], ['maxReplicas', 6], ['waitForReadySeconds', 0]];
  const body: [string, unknown][] = [['playbook', 'scale-replicas'], ['reason', 'fuzz'], ['dryRun', true]];
  switch (where % 7) {
    case 0:
      return serialize(own([...body, ['params', value]]));
    case 1:
      return serialize(own([...body, ['params', own([...params, ['name', value]])]]));
    case 2:
      return serialize(own([...body, ['params', own([...params, ['namespace', value]])]]));
    case 3:
      return serialize(own([...body, ['params', own(params)], ['reason', value]]));
    case 4:
      return serialize(own([...body, ['params', own(params)], ['playbook', value]]));
    case 5:
      return serialize(own([...body, ['params', own(params)], ['precheck', value]]));
    default:
      return serialize(value);
  }
}

const deepRunArb = fc.tuple(deepArb, fc.nat()).map(([deep, where]) => runWith(where, deep));
const hugeRunArb = fc.tuple(hugeArb, fc.nat()).map(([huge, where]) => runWith(where, huge));

const runsCaseArb: fc.Arbitrary<Case> = fc.oneof(
  { arbitrary: skeletonRunArb.map((b): Case => ({ endpoint: 'runs', body: serialize(b), what: 'run skeleton' })), weight: 12 },
  { arbitrary: wildRunArb.map((b): Case => ({ endpoint: 'runs', body: serialize(b), what: 'run request' })), weight: 14 },
  { arbitrary: smallJson.map((b): Case => ({ endpoint: 'runs', body: serialize(b), what: 'random JSON' })), weight: 3 },
  { arbitrary: deepRunArb.map((body): Case => ({ endpoint: 'runs', body, what: 'deep nesting' })), weight: 1 },
  { arbitrary: hugeRunArb.map((body): Case => ({ endpoint: 'runs', body, what: 'huge string' })), weight: 1 },
  { arbitrary: rawCaseArb('runs'), weight: 4 },
  { arbitrary: encodedCaseArb('runs'), weight: 1 },
);

// ---------------------------------------------------------------------------------------------
// Sending.

interface Stats {
  payloads: { webhook: number; runs: number };
  statuses: Map<string, number>;
  failures: { status: number | string; endpoint: string; what: string; body: string }[];
  /** Per kind of case: how many, and their summed latency. */
  latency: Map<string, { n: number; ms: number }>;
}

function preview(body: string | Uint8Array): string {
  const text = typeof body === 'string' ? body : `<${body.length} bytes> ${Buffer.from(body.subarray(0, 80)).toString('hex')}`;
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

// node:http rather than fetch: a fraction of the client's CPU, which this process shares with the server.
const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

/** Sends one case; resolves with the status once the whole answer is read. */
function send(h: Harness, c: Case): Promise<number> {
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
  const headers: Record<string, string | number> = {
    authorization: `Bearer ${c.token ?? (c.endpoint === 'webhook' ? TOKENS.alertmanager : TOKENS.operator)}`,
    'content-length': body.length,
  };
  if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
  if (c.encoding) headers['content-encoding'] = c.encoding;
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(c.endpoint === 'webhook' ? '/api/v1/alerts' : '/api/v1/runs', h.main.url), { method: 'POST', headers, agent }, (res) => {
      res.on('error', reject);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.resume();
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `cases`, IN_FLIGHT at a time, counting statuses and keeping the first few failures. */
async function sendAll(h: Harness, stats: Stats, cases: Case[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i]!;
      cases[i] = undefined as unknown as Case; // let huge bodies go as soon as they are sent
      let status: number | string;
      const t0 = performance.now();
      try {
        status = await send(h, c);
        const kind = `${c.endpoint} ${c.what.split(' as ')[0]}`;
        const k = stats.latency.get(kind) ?? { n: 0, ms: 0 };
        k.n += 1;
        k.ms += performance.now() - t0;
        stats.latency.set(kind, k);
      } catch (err) {
        status = `network error: ${(err as Error).message}`;
      }
      stats.payloads[c.endpoint] += 1;
      const key = `${c.endpoint} ${typeof status === 'number' ? status : 'error'}`;
      stats.statuses.set(key, (stats.statuses.get(key) ?? 0) + 1);
      if (typeof status !== 'number' || status < 200 || status >= 500 || (status >= 300 && status < 400)) {
        if (stats.failures.length < 10) stats.failures.push({ status, endpoint: c.endpoint, what: c.what, body: preview(c.body) });
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

/** Sends `count` generated cases, batch by batch (generated lazily), 60/40 between the endpoints. */
async function fuzz(h: Harness, stats: Stats, count: number, seedOffset: number): Promise<void> {
  for (let done = 0, batchNo = 0; done < count; batchNo++) {
    const n = Math.min(BATCH, count - done);
    await sendAll(h, stats, fc.sample(batchNo % 5 < 3 ? webhookCaseArb : runsCaseArb, { seed: SEED + seedOffset + batchNo, numRuns: n }));
    done += n;
  }
}

/**
 * The heaviest cases, IN_FLIGHT at once: the memory they need at their peak (the allocator keeps
 * some of it after a GC, which is not a leak) is reached before the baseline is measured.
 */
function peakCases(): Case[] {
  const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
  const kinds: Case[] = [
    { endpoint: 'webhook', body: `{"alerts":[${'{"fingerprint":"x"},'.repeat(19_999)}{"fingerprint":"x"}]}`, what: 'many tiny alerts' },
    { endpoint: 'webhook', body: serialize({ alerts: [alertWith(fc.sample(goodAlertArb, { seed: SEED, numRuns: 1 })[0]!, 3, 'é'.repeat(120_000))] }), what: 'huge string' },
    { endpoint: 'webhook', body: serialize({ alerts: [{ labels: { pod: 'x'.repeat(1_100_000) } }] }), what: 'huge string' },
    { endpoint: 'webhook', body: GZIP_BOMB, encoding: 'gzip', what: '8 MB gzip bomb' },
    { endpoint: 'webhook', body: deep, what: 'deep nesting' },
    { endpoint: 'runs', body: deep, what: 'deep nesting' },
    { endpoint: 'runs', body: runWith(3, 'r'.repeat(250_000)), what: 'huge string' },
  ];
  return kinds.flatMap((c) => Array.from({ length: IN_FLIGHT }, () => ({ ...c })));
}

/** Until every run created so far is terminal (the sweeper clears `live`), or the deadline. */
async function settle(h: Harness, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await h.main.redis.zcard(h.main.keys.live)) === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Memory after a full collection, once RSS has settled: V8 hands freed pages back to the system
 * on a background thread, so right after gc() RSS can still show tens of MB that are already free.
 */
async function memoryAfterGc(): Promise<NodeJS.MemoryUsage> {
  gc();
  let last = process.memoryUsage();
  const deadline = Date.now() + 5000;
  for (let stable = 0; stable < 3 && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    gc();
    const m = process.memoryUsage();
    stable = Math.abs(m.rss - last.rss) < MB ? stable + 1 : 0;
    last = m;
  }
  return last;
}

const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;

describe('fuzzing the webhook and the manual-run API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sweepIntervalMs: 100 });
  });
  afterAll(async () => {
    agent.destroy();
    await h?.stop();
  });

  it('turns lone surrogates into U+FFFD at the door: they used to make the webhook answer 500 (found by this fuzzer)', async () => {
    // JSON can spell a lone surrogate; the Redis scripts' JSON decoder refused it ("invalid unicode
    // escape code") when it sat in a fingerprint, an alertname or a generatorURL: 500, retried for ever.
    const alert = (fingerprint: string, labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({
      status: 'firing', labels, annotations: { summary: 's\uDFFF' }, startsAt: '2026-11-28T23:03:49.035Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://p/\uD800', fingerprint, ...extra,
    });
    const body = {
      alerts: [
        alert('fp-\uD800', { alertname: 'Unmatched\uDC00', ['k\uD800']: 'v' }),
        alert('fp-oom-\uDBFF', { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'fz-surrogate', ['\uDFFFx']: '\uD800' }),
        alert('\uDC00', { alertname: 'KubePodOOMKilled' }, { status: 'sideways' }),
      ],
    };
    const res = await h.post(body);
    expect(res.status).toBe(200);
    expect(res.body.decisions).toMatchObject([
      { fingerprint: 'fp-\uFFFD', decision: 'unmatched' },
      { fingerprint: 'fp-oom-\uFFFD', decision: 'enqueued' },
      { fingerprint: '\uFFFD', decision: 'invalid_params' },
    ]);
    const run = await h.waitRun(res.body.decisions[1].runId);
    expect(run.trigger.alert?.labels).toEqual({ alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'fz-surrogate', '\uFFFDx': '\uFFFD' });
    expect(run.trigger.alert?.generatorURL).toBe('http://p/\uFFFD');

    // Deeper than the call stack, with a lone surrogate in the innermost key and value.
    const deep = `{"alerts":[],"x":${'{"\\ud800":'.repeat(20_000)}"\\udfff"${'}'.repeat(20_000)}}`;
    expect((await h.post(undefined, { raw: deep })).status).toBe(200);

    const manual = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'fz-surrogate', maxReplicas: 6, waitForReadySeconds: 0 }, reason: 'r\uD800', dryRun: true });
    expect(manual.status).toBe(202);
    expect((await h.main.runs.get(manual.body.id))?.trigger.reason).toBe('r\uFFFD');
    expect((await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'x\uD800', params: {}, reason: 'r' })).status).toBe(400);

    // In place, keys included; `__proto__` stays an own key, the prototype untouched.
    const parsed = JSON.parse('{"__proto__":{"\\ud800":1},"a\\udc00":["\\udbff",{"constructor":"\\ud83d\\ude00"}]}') as Record<string, unknown>;
    expect(toWellFormed(parsed)).toBe(parsed);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(['__proto__', 'a\uFFFD']);
    expect(JSON.stringify(parsed)).toBe('{"__proto__":{"\uFFFD":1},"a\uFFFD":["\uFFFD",{"constructor":"\uD83D\uDE00"}]}');
  });

  it(`answers ≥ ${WARMUP + MAIN} generated payloads with 2xx/4xx only, sends no invalid name to Kubernetes, keeps memory flat (seed ${SEED})`, async () => {
    const started = Date.now();
    const stats: Stats = { payloads: { webhook: 0, runs: 0 }, statuses: new Map(), failures: [], latency: new Map() };
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();

    await sendAll(h, stats, peakCases());
    await fuzz(h, stats, WARMUP, 0);
    const settledWarm = await settle(h, 15_000);
    const before = await memoryAfterGc();
    const rssBefore = before.rss;
    const mainStarted = Date.now();

    if (process.env.FUZZ_TRACE === 'steps') {
      for (let k = 0; k < Number(process.env.FUZZ_STEPS ?? MAIN); k += 1000) {
        await fuzz(h, stats, 1000, 1_000_000 + k);
        const m = await memoryAfterGc();
        console.log(`trace ${k + 1000}: rss ${mb(m.rss)} heapTotal ${mb(m.heapTotal)} heapUsed ${mb(m.heapUsed)} external ${mb(m.external)} ab ${mb(m.arrayBuffers)}`);
      }
    } else await fuzz(h, stats, MAIN, 1_000_000);
    const mainMs = Date.now() - mainStarted;
    const settledMain = await settle(h, 20_000);
    const after = await memoryAfterGc();
    const rssAfter = after.rss;
    const settleMs = Date.now() - mainStarted - mainMs;

    // Still answering: a good notification and a good manual run.
    const good = await h.post(notification([{ labels: { alertname: 'KubePodOOMKilled', namespace: 'ml-serving', pod: 'fz-final' } }]));
    expect(good.status).toBe(200);
    expect(good.body.decisions[0].decision).toBe('enqueued');
    const manual = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'scale-replicas', params: { namespace: 'ml-serving', name: 'fz-final', maxReplicas: 6, waitForReadySeconds: 0 }, reason: 'fuzz: still answering' });
    expect(manual.status).toBe(202);
    const finalRun = await h.waitRun(manual.body.id);
    expect(finalRun.status).toBe('failed'); // no such Deployment; it was asked for, over the wire

    // Authentication last: a missing or unknown token is 401, a token of the wrong role 403. Both count
    // as failures towards the per-address limit (20 a minute, then 429), so only 11 of them.
    const authCases: [Case['endpoint'], string | null, number][] = [
      ['webhook', null, 401], ['webhook', 'x', 401], ['webhook', '\u00ff'.repeat(300), 401], ['webhook', TOKENS.viewer, 403], ['webhook', TOKENS.operator, 403], ['webhook', TOKENS.admin, 403],
      ['runs', null, 401], ['runs', '', 401], ['runs', `${TOKENS.operator}x`, 401], ['runs', TOKENS.alertmanager, 403], ['runs', TOKENS.viewer, 403],
    ];
    for (const [endpoint, token, expected] of authCases) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${h.main.url}${endpoint === 'webhook' ? '/api/v1/alerts' : '/api/v1/runs'}`, { method: 'POST', headers, body: VALID_NOTIFICATION });
      await res.arrayBuffer();
      stats.payloads[endpoint] += 1;
      expect(res.status, `${endpoint} with token ${JSON.stringify(token)?.slice(0, 20)}`).toBe(expected);
    }

    const requests = h.sim.requests;
    const bad = requests.map((r) => ({ r, why: badKubeRequest(r) })).filter((x) => x.why !== undefined);
    const canaryHits = requests.filter((r) => r.path.split('/').some((seg) => CANARY.test(seg)));
    const total = stats.payloads.webhook + stats.payloads.runs;
    const histogram = [...stats.statuses.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}: ${v}`).join(', ');
    const growth = (rssAfter - rssBefore) / rssBefore;
    console.log(
      `fuzz (seed ${SEED}): ${total} payloads (webhook ${stats.payloads.webhook}, runs ${stats.payloads.runs}) in ${((Date.now() - started) / 1000).toFixed(1)} s (main ${(mainMs / 1000).toFixed(1)} s, settling ${(settleMs / 1000).toFixed(1)} s); ` +
        `statuses {${histogram}}; after GC: rss ${mb(rssBefore)} → ${mb(rssAfter)} (${(growth * 100).toFixed(1)} %), heap ${mb(before.heapUsed)} → ${mb(after.heapUsed)}, external ${mb(before.external)} → ${mb(after.external)}; ` +
        `settled ${settledWarm}/${settledMain}; kube requests ${requests.length} (${canaryHits.length} for canary names; none for the ${invalidNames.size} invalid names of the pool or the other hostile values)`,
    );

    if (process.env.FUZZ_TRACE) for (const [k, v] of [...stats.latency].sort((a, b) => b[1].ms - a[1].ms)) console.log(`latency ${k}: ${v.n} × ${(v.ms / v.n).toFixed(1)} ms = ${(v.ms / 1000).toFixed(1)} s`);
    expect(stats.failures, `seed ${SEED}: answers outside 2xx/4xx`).toEqual([]);
    // Nothing in the fuzz counted as an authentication failure: a 429 would have hidden the rest.
    expect([...stats.statuses.keys()].filter((k) => / (401|429)$/.test(k))).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(10_000);
    expect(Math.min(stats.payloads.webhook, stats.payloads.runs)).toBeGreaterThan(3000);
    expect(bad.slice(0, 5).map((x) => `${x.r.method} ${x.r.path} ${JSON.stringify(x.r.query)}: ${x.why}`), `seed ${SEED}`).toEqual([]);
    // The oracle is not vacuous: valid names from labels and params did reach the cluster.
    expect(canaryHits.length).toBeGreaterThan(0);
    expect(requests.some((r) => r.method === 'GET' && /\/namespaces\/ml-serving\/(pods|deployments)\/fz-/.test(r.path))).toBe(true);
    expect(requests.some((r) => /\/nodes\/fz-/.test(r.path))).toBe(true);
    // No prototype pollution in this (the server's) process.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(growth, `rss ${rssBefore} → ${rssAfter}`).toBeLessThan(0.1);
  }, 150_000);
});
