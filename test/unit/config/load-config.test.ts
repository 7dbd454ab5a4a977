import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { matchRules } from '../../../src/alertmanager/rule-matcher.js';
import { parseWebhookPayload } from '../../../src/alertmanager/webhook-payload.js';
import { ConfigError } from '../../../src/config/config-error.js';
import { loadConfig, validateConfigText } from '../../../src/config/load-config.js';
import { ValidationError } from '../../../src/domain/errors.js';
import type { AnyPlaybook } from '../../../src/engine/playbook.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/config/', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../../remediator.example.yaml', import.meta.url));
const ALERT_FIXTURES = fileURLToPath(new URL('../../fixtures/alertmanager/', import.meta.url));

// Small stand-ins for the real playbooks: same names, params and label mapping as docs/playbooks.md.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const namespace = z.string().regex(DNS_LABEL, 'must be a valid Kubernetes namespace (DNS label)');

function fake(name: string, paramsSchema: z.ZodType<any>, fromLabels: (labels: Record<string, string>) => Record<string, unknown>): AnyPlaybook {
  return {
    name,
    description: `fake ${name}`,
    destructive: false,
    paramsSchema,
    paramsFromLabels: fromLabels,
    target: () => 'node/fake',
    run: async () => ({ result: 'noop', reason: 'fake' }),
  };
}

const PLAYBOOKS = new Map<string, AnyPlaybook>(
  [
    fake(
      'drain-gpu-node',
      z.strictObject({
        node: z.string().min(1),
        timeoutSeconds: z.int().min(1).default(600),
        deleteEmptyDirData: z.boolean().default(false),
        taint: z.strictObject({ key: z.string(), value: z.string().optional(), effect: z.enum(['NoSchedule', 'PreferNoSchedule']) }).optional(),
      }),
      (labels) => (labels.node ? { node: labels.node } : {}),
    ),
    fake(
      'restart-oom-pod',
      z.strictObject({
        namespace,
        pod: z.string().min(1),
        container: z.string().optional(),
        method: z.enum(['evict', 'delete']).default('evict'),
        waitForReadySeconds: z.int().min(0).default(300),
      }),
      (labels) => Object.fromEntries(['namespace', 'pod', 'container'].filter((k) => labels[k]).map((k) => [k, labels[k]])),
    ),
    fake(
      'scale-replicas',
      z
        .strictObject({
          namespace,
          kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
          name: z.string().min(1),
          replicas: z.int().min(0).optional(),
          step: z.int().optional(),
          minReplicas: z.int().min(0).default(1),
          maxReplicas: z.int().min(0),
        })
        .refine((p) => p.replicas === undefined || p.step === undefined, { message: 'give either replicas or step, not both', path: ['step'] }),
      (labels) => ({
        ...(labels.namespace ? { namespace: labels.namespace } : {}),
        ...(labels.deployment ? { kind: 'Deployment', name: labels.deployment } : {}),
      }),
    ),
    fake(
      'raise-memory-limit',
      z.strictObject({
        namespace,
        kind: z.enum(['Deployment', 'StatefulSet']).default('Deployment'),
        name: z.string().min(1).optional(),
        pod: z.string().min(1).optional(),
        container: z.string().optional(),
        factor: z.number().gt(1).default(1.5),
        maxLimit: z.string().min(1),
      }),
      (labels) => Object.fromEntries(['namespace', 'pod', 'container'].filter((k) => labels[k]).map((k) => [k, labels[k]])),
    ),
  ].map((p) => [p.name, p]),
);

const EXAMPLE_ENV = {
  REMEDIATOR_AM_TOKEN: 'am-secret',
  REMEDIATOR_VIEWER_TOKEN: 'viewer-secret',
  REMEDIATOR_ONCALL_TOKEN: 'oncall-secret',
  REMEDIATOR_ADMIN_TOKEN: 'admin-secret',
};

function fixture(name: string): string {
  return readFileSync(`${FIXTURES}${name}`, 'utf8');
}

function problemsOf(run: () => unknown): { path: string; message: string }[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).details;
  }
  throw new Error('expected a ConfigError');
}

describe('remediator.example.yaml', () => {
  const load = () => validateConfigText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE, PLAYBOOKS, { env: EXAMPLE_ENV });

  it('validates', () => {
    const config = load();
    expect(config.rules.map((r) => [r.name, r.playbook])).toEqual([
      ['drain-overheated-gpu-nodes', 'drain-gpu-node'],
      ['restart-oom-killed-pods', 'restart-oom-pod'],
      ['scale-up-on-high-latency', 'scale-replicas'],
      ['scale-up-on-saturation', 'scale-replicas'],
    ]);
    expect(config.auth.tokens.map((t) => [t.name, t.role, t.token])).toEqual([
      ['alertmanager', 'alertmanager', 'am-secret'],
      ['grafana', 'viewer', 'viewer-secret'],
      ['oncall', 'operator', 'oncall-secret'],
      ['sre-admin', 'admin', 'admin-secret'],
    ]);
  });

  it.each([
    ['firing-gpu-node-overheating.json', 'drain-overheated-gpu-nodes'],
    ['firing-kube-pod-oom-killed.json', 'restart-oom-killed-pods'],
    ['firing-llm-high-latency-p95.json', 'scale-up-on-high-latency'],
  ])('routes the captured %s to %s', (file, ruleName) => {
    const parsed = parseWebhookPayload((JSON.parse(readFileSync(`${ALERT_FIXTURES}${file}`, 'utf8')) as { body: unknown }).body);
    if (!parsed.ok || !parsed.notification.alerts[0]?.ok) throw new Error('fixture did not parse');
    expect(matchRules(load().rules, parsed.notification.alerts[0].alert.labels).map((r) => r.name)).toEqual([ruleName]);
  });

  it('routes LLMRequestSaturation to its own scale rule', () => {
    const labels = { alertname: 'LLMRequestSaturation', namespace: 'ml-serving', deployment: 'llm-gateway', severity: 'warning' };
    expect(matchRules(load().rules, labels).map((r) => r.name)).toEqual(['scale-up-on-saturation']);
  });

  it('reports each token env var the example needs when it is missing', () => {
    const problems = problemsOf(() => validateConfigText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE, PLAYBOOKS, { env: {} }));
    expect(problems.map((p) => p.path)).toEqual([0, 1, 2, 3].map((i) => `auth.tokens[${i}].tokenEnv`));
  });
});

describe('docs/configuration.md configuration block', () => {
  const secrets: Record<string, string> = {
    '/var/run/secrets/remediator/am-token': 'am-token-from-file\n',
  };
  const readFile = (path: string) => {
    const content = secrets[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  };

  it('validates verbatim once its secret file and env var are provided', () => {
    const config = validateConfigText(fixture('design-section-3.yaml'), `${FIXTURES}design-section-3.yaml`, PLAYBOOKS, {
      env: { ALICE_TOKEN: ' alice-secret ' },
      readFile,
    });
    expect(config.auth.tokens.map((t) => [t.name, t.role, t.token])).toEqual([
      ['alertmanager', 'alertmanager', 'am-token-from-file'],
      ['alice', 'operator', 'alice-secret'],
    ]);
    const [rule] = config.rules;
    expect(rule).toMatchObject({
      name: 'drain-overheated-gpu-nodes',
      playbook: 'drain-gpu-node',
      params: { timeoutSeconds: 900 },
      matcherTexts: ['alertname="GPUNodeOverheating"', 'severity=~"critical|page"'],
      cooldownMs: 3_600_000,
      maxRunsPerHour: 2,
      approval: 'none',
      onResolved: 'cancel-pending',
      dryRun: false,
      continue: false,
      verify: { withinMs: 900_000 },
      escalate: { notify: ['oncall-slack'] },
      notify: ['oncall-slack'],
    });
    expect(rule!.precheck).toContain('DCGM_FI_DEV_GPU_TEMP');
    expect(rule!.matchers.map((m) => [m.name, m.operator, m.value])).toEqual([
      ['alertname', '=', 'GPUNodeOverheating'],
      ['severity', '=~', 'critical|page'],
    ]);
    expect(config.guards.maxQueueAgeMs).toBe(900_000);
    expect(config.guards.approvalTimeoutMs).toBe(1_800_000);
    expect(config.audit).toEqual({ keyFile: '/var/run/secrets/remediator/audit-key', maxAgeMs: 90 * 86_400_000, maxEntries: 1_000_000 });
    expect(config.kubernetes).toEqual({ kubeconfig: `${FIXTURES}kubeconfig`, context: 'prod-gpu', requestTimeoutSeconds: 15 });
    expect(config.prometheus).toEqual({
      url: 'http://prometheus:9090',
      bearerTokenFile: '/var/run/secrets/remediator/prom-token',
      timeoutSeconds: 10,
      retries: 2,
      tls: { caFile: '/etc/ssl/prom-ca.pem', insecureSkipVerify: false },
    });
    expect(config.alertmanager).toEqual({ url: 'http://alertmanager:9093', bearerTokenFile: '/var/run/secrets/remediator/am-api-token', timeoutSeconds: 10, retries: 2 });
    expect(rule!.verify).toEqual({ withinMs: 900_000, intervalMs: 60_000, silence: false, query: 'max by (node) (DCGM_FI_DEV_GPU_TEMP{node="{{ labels.node }}"}) > 85' });
    expect(config.notifications.map((n) => n.name)).toEqual(['oncall-slack', 'audit-hook']);
  });

  it('validate mode: secrets this machine cannot resolve are warnings, the rest is still checked', () => {
    const readFile = () => {
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    };
    const config = validateConfigText(fixture('design-section-3.yaml'), `${FIXTURES}design-section-3.yaml`, PLAYBOOKS, { env: {}, readFile, unresolvedSecrets: 'warn' });
    expect(config.warnings).toEqual([
      { path: 'auth.tokens[0].tokenFile', message: 'cannot read /var/run/secrets/remediator/am-token (ENOENT)' },
      { path: 'auth.tokens[1].tokenEnv', message: 'environment variable ALICE_TOKEN is not set or empty' },
    ]);
    // A real problem elsewhere is still an error in validate mode.
    expect(() => validateConfigText(`${fixture('design-section-3.yaml')}\nbogus: 1\n`, 'x.yaml', PLAYBOOKS, { env: {}, readFile, unresolvedSecrets: 'warn' })).toThrow(/bogus/);
  });

  it('fails with the paths of the missing secrets when they are not provided', () => {
    const problems = problemsOf(() =>
      validateConfigText(fixture('design-section-3.yaml'), `${FIXTURES}design-section-3.yaml`, PLAYBOOKS, { env: {}, readFile: () => { throw Object.assign(new Error('nope'), { code: 'ENOENT' }); } }),
    );
    expect(problems).toEqual([
      { path: 'auth.tokens[0].tokenFile', message: 'cannot read /var/run/secrets/remediator/am-token (ENOENT)' },
      { path: 'auth.tokens[1].tokenEnv', message: 'environment variable ALICE_TOKEN is not set or empty' },
    ]);
  });
});

describe('good fixtures', () => {
  it('an empty file gives every default', () => {
    const config = validateConfigText(fixture('good-minimal.yaml'), 'good-minimal.yaml', PLAYBOOKS, { env: {} });
    expect(config).toEqual({
      source: 'good-minimal.yaml',
      server: { port: 8080, bodyLimit: '5mb', shutdownGraceSeconds: 30 },
      ui: {},
      redis: { connection: { mode: 'standalone', url: 'redis://127.0.0.1:6379' }, prefix: 'remediator', minReplicasAcked: 0 },
      kubernetes: { requestTimeoutSeconds: 15 },
      dryRun: false,
      auth: { tokens: [] },
      audit: { maxAgeMs: 90 * 86_400_000, maxEntries: 1_000_000 },
      runs: { retentionMs: 28 * 86_400_000 },
      guards: {
        maxConcurrentRuns: 10,
        maxUnschedulableNodes: { count: 1 },
        namespaces: { deny: ['kube-system'] },
        optOutLabel: 'remediator.dev/disabled',
        maxQueueAgeMs: 15 * 60_000,
        approvalTimeoutMs: 30 * 60_000,
        manualApproval: 'none',
      },
      notifications: [],
      rules: [],
    });
  });

  it('applies rule defaults', () => {
    const text = 'rules:\n  - { name: r, matchers: [\'alertname="A"\'], playbook: drain-gpu-node }\n';
    const [rule] = validateConfigText(text, 'inline', PLAYBOOKS, { env: {} }).rules;
    expect(rule).toEqual({
      name: 'r',
      matchers: [{ name: 'alertname', operator: '=', value: 'A' }],
      matcherTexts: ['alertname="A"'],
      playbook: 'drain-gpu-node',
      params: {},
      approval: 'none',
      onResolved: 'cancel-pending',
      dryRun: false,
      continue: false,
      notify: [],
    });
  });

  it('resolves relative paths against the config file directory and reads token files trimmed', () => {
    const config = validateConfigText(fixture('good-relative-paths.yaml'), `${FIXTURES}good-relative-paths.yaml`, PLAYBOOKS, { env: {} });
    expect(config.auth.tokens.map((t) => [t.name, t.role, t.token])).toEqual([
      ['alertmanager', 'alertmanager', 'am-secret-from-file'],
      ['inline', 'viewer', 'inline-secret'],
    ]);
    expect(config.audit.keyFile).toBe(`${FIXTURES}secrets/audit-key`);
    expect(config.kubernetes.kubeconfig).toBe(`${FIXTURES}kubeconfig`);
    expect(config.guards.maxUnschedulableNodes).toEqual({ percent: 10 });
    expect(config.guards.namespaces).toEqual({ allow: ['ml-serving', 'ml-training'] });
    expect(config.rules.map((r) => [r.name, r.continue])).toEqual([
      ['scale-statefulsets', true],
      ['restart', false],
    ]);
    // kind is set by the rule, name and namespace come from the alert.
    expect(config.rules[0]!.params).toEqual({ kind: 'StatefulSet', replicas: 4, maxReplicas: 6 });
  });
});

describe('bad fixtures: one problem each, reported with its path', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.startsWith('bad-') && f.endsWith('.yaml')).sort();

  it('exist', () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it.each(files)('%s', (file) => {
    const text = fixture(file);
    const expected = [...text.matchAll(/^# expect: (.+?): (.+)$/gm)].map((m) => ({ path: m[1]!, message: m[2]! }));
    expect(expected.length, 'fixture declares its expected problems').toBeGreaterThan(0);

    const problems = problemsOf(() => validateConfigText(text, `${FIXTURES}${file}`, PLAYBOOKS, { env: {} }));
    for (const want of expected) {
      expect(problems, `${want.path}: ${want.message}`).toContainEqual({ path: want.path, message: expect.stringContaining(want.message) });
    }
    expect(problems).toHaveLength(expected.length);
  });
});

describe('reporting', () => {
  const broken = [
    'servr: { port: 1 }',
    'guards:',
    '  maxQueueAge: 15x',
    '  namespaces: { allow: [a], deny: [b] }',
    'auth:',
    '  tokens:',
    '    - { name: alice, role: root, token: x }',
    '    - { name: bob, role: operator, tokenEnv: BOB_TOKEN }',
    'rules:',
    "  - name: drain",
    "    matchers: ['alertname=\"GPUNodeOverheating\"']",
    '    playbook: drain-node',
    "  - name: restart",
    "    matchers: ['alertname=\"KubePodOOMKilled']",
    '    playbook: restart-oom-pod',
    "  - name: scale",
    "    matchers: ['alertname=\"LLMHighLatencyP95\"']",
    '    playbook: scale-replicas',
    '    params: { step: 1 }',
    '    cooldown: soon',
  ].join('\n');

  it('reports every problem of the file at once', () => {
    const problems = problemsOf(() => validateConfigText(broken, 'broken.yaml', PLAYBOOKS, { env: {} }));
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        'servr',
        'guards.maxQueueAge',
        'guards.namespaces',
        'auth.tokens[0].role',
        'auth.tokens[1].tokenEnv',
        'rules[0].playbook',
        'rules[1].matchers[0]',
        'rules[2].params.maxReplicas',
        'rules[2].cooldown',
      ].sort(),
    );
  });

  it('is a ValidationError whose message lists every problem', () => {
    try {
      validateConfigText(broken, 'broken.yaml', PLAYBOOKS, { env: {} });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const message = (error as Error).message;
      expect(message).toMatch(/^invalid configuration broken\.yaml \(9 problems\):/);
      expect(message).toContain('\n  rules[0].playbook: unknown playbook "drain-node" (known: drain-gpu-node, raise-memory-limit, restart-oom-pod, scale-replicas)');
      expect(message).toContain('\n  rules[2].params.maxReplicas: Required');
      expect(message).toContain('\n  guards.maxQueueAge: invalid duration "15x"');
    }
  });

  it('still checks params of rules whose other fields are broken', () => {
    const text = "rules:\n  - { name: a, matchers: ['x=\"'], playbook: scale-replicas, params: { replicas: 2, step: 1, maxReplicas: 3 } }\n";
    const problems = problemsOf(() => validateConfigText(text, 'x', PLAYBOOKS, { env: {} }));
    expect(problems.map((p) => p.path)).toEqual(['rules[0].matchers[0]', 'rules[0].params.step']);
  });

  it('never puts a token secret in a message', () => {
    const text = 'auth:\n  tokens:\n    - { name: a, role: viewer, token: top-secret-1 }\n    - { name: b, role: admin, token: top-secret-1 }\n';
    try {
      validateConfigText(text, 'x', PLAYBOOKS, { env: {} });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('top-secret-1');
    }
  });
});

describe('alert-derived params', () => {
  const rule = (playbook: string, params: string) =>
    `rules:\n  - { name: r, matchers: ['alertname="A"'], playbook: ${playbook}, params: ${params} }\n`;

  it.each([
    ['drain-gpu-node', '{}'],
    ['restart-oom-pod', '{ method: delete }'],
    ['scale-replicas', '{ maxReplicas: 4 }'],
  ])('treats the keys %s takes from labels as present', (playbook, params) => {
    expect(() => validateConfigText(rule(playbook, params), 'x', PLAYBOOKS, { env: {} })).not.toThrow();
  });

  it('reports them when the playbook is given no alert-derived keys', () => {
    const problems = problemsOf(() => validateConfigText(rule('scale-replicas', '{ maxReplicas: 4 }'), 'x', PLAYBOOKS, { env: {}, alertParamKeys: {} }));
    expect(problems).toEqual([
      { path: 'rules[0].params.namespace', message: 'Required' },
      { path: 'rules[0].params.name', message: 'Required' },
    ]);
  });

  it('accepts a plain lookup object for playbooks (no list of known names then)', () => {
    const lookup = { get: (name: string) => PLAYBOOKS.get(name) };
    const problems = problemsOf(() => validateConfigText(rule('reboot-node', '{}'), 'x', lookup, { env: {} }));
    expect(problems).toEqual([{ path: 'rules[0].playbook', message: 'unknown playbook "reboot-node"' }]);
  });
});

describe('tokens', () => {
  it('keeps the secret out of serialisation while it stays readable', () => {
    const config = validateConfigText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE, PLAYBOOKS, { env: EXAMPLE_ENV });
    expect(config.auth.tokens[0]!.token).toBe('am-secret');
    const serialised = JSON.stringify(config);
    for (const secret of Object.values(EXAMPLE_ENV)) expect(serialised).not.toContain(secret);
    expect({ ...config.auth.tokens[0] }).toEqual({ name: 'alertmanager', role: 'alertmanager' });
  });
});

describe('hostile YAML', () => {
  it('refuses an alias bomb quickly, with a clear reason', () => {
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const text = levels.map((name, i) => `${name}: &${name} [${i === 0 ? Array(9).fill('"lol"').join(',') : Array(9).fill(`*${levels[i - 1]}`).join(',')}]`).join('\n') + '\n';
    const started = performance.now();
    expect(problemsOf(() => validateConfigText(text, 'x', PLAYBOOKS, { env: {} }))).toEqual([
      { path: '(yaml)', message: 'aliases expand to more than 100 copies: refused as a resource exhaustion attack (an "alias bomb")' },
    ]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['dryRun: !!python/object:os.system "rm -rf /"\n', 'tag:yaml.org,2002:python/object:os.system'],
    ['dryRun: !custom true\n', '!custom'],
    ['dryRun: !!binary aGVsbG8=\n', 'tag:yaml.org,2002:binary'],
    ['guards: !!set { maxConcurrentRuns }\n', 'tag:yaml.org,2002:set'],
    ['dryRun: !!str true\n', 'tag:yaml.org,2002:str'],
  ])('refuses a tagged value: %j', (text, tag) => {
    const problems = problemsOf(() => validateConfigText(text, 'x', PLAYBOOKS, { env: {} }));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toMatch(/^line 1, column \d+$/);
    expect(problems[0]!.message).toBe(`YAML tag ${tag} is not allowed in a config (plain values only)`);
  });

  it('still takes a few aliases, as people write them', () => {
    const config = validateConfigText('guards: &g { maxConcurrentRuns: 3 }\n', 'x', PLAYBOOKS, { env: {} });
    expect(config.guards.maxConcurrentRuns).toBe(3);
  });
});

describe('redis topologies', () => {
  it('sentinel and cluster load with absolute password files; minReplicasAcked defaults to 0', () => {
    const sentinel = validateConfigText(
      'redis: { sentinel: { name: mymaster, sentinels: ["10.0.0.1:26379", "[::1]:26380"], passwordFile: pw, sentinelPasswordFile: spw, tls: { caFile: ca.pem } }, minReplicasAcked: 1 }\n',
      '/etc/remediator/remediator.yaml',
      PLAYBOOKS,
      { env: {} },
    );
    expect(sentinel.redis).toEqual({
      prefix: 'remediator',
      minReplicasAcked: 1,
      connection: {
        mode: 'sentinel',
        name: 'mymaster',
        sentinels: ['10.0.0.1:26379', '[::1]:26380'],
        passwordFile: '/etc/remediator/pw',
        sentinelPasswordFile: '/etc/remediator/spw',
        tls: { insecureSkipVerify: false, caFile: '/etc/remediator/ca.pem' },
      },
    });
    const cluster = validateConfigText('redis: { cluster: { nodes: ["a:7000", "b:7001"] }, prefix: gpu }\n', 'x', PLAYBOOKS, { env: {} });
    expect(cluster.redis).toEqual({ prefix: 'gpu', minReplicasAcked: 0, connection: { mode: 'cluster', nodes: ['a:7000', 'b:7001'] } });
  });

  it('refuses two topologies, a node without a port, an empty list and unknown keys', () => {
    expect(problemsOf(() => validateConfigText('redis: { url: "redis://a:6379", cluster: { nodes: ["a:7000"] } }\n', 'x', PLAYBOOKS, { env: {} }))).toEqual([
      { path: 'redis', message: 'set exactly one of url, sentinel and cluster' },
    ]);
    expect(problemsOf(() => validateConfigText('redis: { cluster: { nodes: ["a"] } }\n', 'x', PLAYBOOKS, { env: {} }))).toEqual([
      { path: 'redis.cluster.nodes[0]', message: 'each cluster node must be host:port (port 1-65535)' },
    ]);
    expect(problemsOf(() => validateConfigText('redis: { cluster: { nodes: ["a:70000", "b:0"] } }\n', 'x', PLAYBOOKS, { env: {} })).map((p) => p.path)).toEqual(['redis.cluster.nodes[0]', 'redis.cluster.nodes[1]']);
    expect(problemsOf(() => validateConfigText('redis: { sentinel: { name: m, sentinels: [] } }\n', 'x', PLAYBOOKS, { env: {} }))).toEqual([
      { path: 'redis.sentinel.sentinels', message: 'list at least one sentinel' },
    ]);
    expect(problemsOf(() => validateConfigText('redis: { cluster: { nodes: ["a:1"], scaleReads: slave } }\n', 'x', PLAYBOOKS, { env: {} }))[0]!.path).toBe('redis.cluster.scaleReads');
    expect(problemsOf(() => validateConfigText('redis: { minReplicasAcked: -1 }\n', 'x', PLAYBOOKS, { env: {} }))[0]!.path).toBe('redis.minReplicasAcked');
  });
});

describe('environment overrides', () => {
  it('PORT and REDIS_URL override the file', () => {
    const config = validateConfigText('server: { port: 9000 }\nredis: { url: "redis://file:6379" }\n', 'x', PLAYBOOKS, {
      env: { PORT: '9100', REDIS_URL: 'rediss://managed.example:6380/0' },
    });
    expect(config.server.port).toBe(9100);
    expect(config.redis.connection).toEqual({ mode: 'standalone', url: 'rediss://managed.example:6380/0' });
  });

  it('empty variables do not override', () => {
    const config = validateConfigText('server: { port: 9000 }\n', 'x', PLAYBOOKS, { env: { PORT: '', REDIS_URL: '' } });
    expect(config.server.port).toBe(9000);
    expect(config.redis.connection).toEqual({ mode: 'standalone', url: 'redis://127.0.0.1:6379' });
  });

  it('REDIS_URL together with redis.sentinel or redis.cluster refuses to load', () => {
    for (const [key, yaml] of [
      ['sentinel', 'redis: { sentinel: { name: mymaster, sentinels: ["10.0.0.1:26379"] } }\n'],
      ['cluster', 'redis: { cluster: { nodes: ["10.0.0.1:6379"] } }\n'],
    ] as const) {
      expect(problemsOf(() => validateConfigText(yaml, 'x', PLAYBOOKS, { env: { REDIS_URL: 'redis://elsewhere:6379' } }))).toEqual([
        { path: 'REDIS_URL (environment)', message: `is set, but the config chooses redis.${key}; unset REDIS_URL or remove that key` },
      ]);
    }
  });

  it('invalid values are reported', () => {
    const problems = problemsOf(() => validateConfigText('', 'x', PLAYBOOKS, { env: { PORT: '80a', REDIS_URL: 'localhost:6379' } }));
    expect(problems).toEqual([
      { path: 'PORT (environment)', message: 'invalid port "80a"' },
      { path: 'REDIS_URL (environment)', message: 'must be a redis:// or rediss:// URL' },
    ]);
  });
});

describe('loadConfig', () => {
  const reads: string[] = [];
  const readFile = (path: string) => {
    reads.push(path);
    if (path.endsWith('missing.yaml')) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return 'dryRun: true\n';
  };

  it('reads opts.path first, then REMEDIATOR_CONFIG, then ./remediator.yaml', () => {
    reads.length = 0;
    expect(loadConfig({ path: '/etc/a.yaml', env: { REMEDIATOR_CONFIG: '/etc/b.yaml' }, playbooks: PLAYBOOKS, readFile }).source).toBe('/etc/a.yaml');
    expect(loadConfig({ env: { REMEDIATOR_CONFIG: '/etc/b.yaml' }, playbooks: PLAYBOOKS, readFile }).source).toBe('/etc/b.yaml');
    expect(loadConfig({ env: {}, playbooks: PLAYBOOKS, readFile }).source).toBe('./remediator.yaml');
    expect(reads).toEqual(['/etc/a.yaml', '/etc/b.yaml', `${process.cwd()}/remediator.yaml`]);
  });

  it('loads a real file', () => {
    const config = loadConfig({ path: EXAMPLE, env: EXAMPLE_ENV, playbooks: PLAYBOOKS });
    expect(config.source).toBe(EXAMPLE);
    expect(config.rules).toHaveLength(4);
  });

  it('fails with a ConfigError when the file cannot be read', () => {
    const problems = problemsOf(() => loadConfig({ path: '/etc/missing.yaml', env: {}, playbooks: PLAYBOOKS, readFile }));
    expect(problems).toEqual([{ path: '/etc/missing.yaml', message: 'cannot read the config file /etc/missing.yaml (ENOENT)' }]);
  });
});
