/**
 * The deployment files (deploy/, docker-compose.yml) against the code and DESIGN: they parse,
 * the kustomization is complete, RBAC grants exactly what the Kubernetes adapter calls, the alert
 * rules carry the labels the playbooks derive their params from, every metric they
 * use exists, and the shipped configs load. promtool / amtool / kubectl checks run when the
 * binaries are on PATH (Debian: `apt-get install prometheus prometheus-alertmanager`) and are
 * skipped with the reason in the test name otherwise.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { validateConfigText } from '../../../src/config/load-config.js';
import type { LoadedConfig } from '../../../src/config/loaded-config.js';
import { GUARD_NAMES } from '../../../src/domain/errors.js';
import { TERMINAL_STATUSES } from '../../../src/domain/run.js';
import type { AnyPlaybook } from '../../../src/engine/playbook.js';
import { ACTIONS, ACTION_RESULTS, DECISIONS, Metrics, QUEUE_STATES, PRECHECK_RESULTS, VERIFICATION_RESULTS, NOTIFICATION_RESULTS } from '../../../src/observability/metrics.js';
import { playbooks } from '../../../playbooks/index.js';
import { ROOT, at, docs, has, read, run, skipNote, type Doc } from '../../helpers/deploy-files.js';

const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'kubernetes');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function one(kind: string, name: string): Doc {
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml'))) {
    const found = docs('deploy/kubernetes', file).find((d) => d.kind === kind && d.metadata?.name === name);
    if (found) return found;
  }
  throw new Error(`no ${kind}/${name} in deploy/kubernetes`);
}

const PLAYBOOKS = new Map<string, AnyPlaybook>(playbooks.map((p) => [p.name, p]));

/** Loads a shipped remediator.yaml as `serve` would, with a distinct fake secret per file. */
function loadShippedConfig(text: string, source: string): LoadedConfig {
  return validateConfigText(text, source, PLAYBOOKS, {
    env: {},
    readFile: (path) => `secret-for-${path}-0123456789abcdef`,
  });
}

const K8S_CONFIG_TEXT = String(one('ConfigMap', 'remediator-config').data['remediator.yaml']);
const COMPOSE_CONFIG_TEXT = read('deploy/compose/remediator.yaml');
const COMPOSE = parse(read('docker-compose.yml'), { merge: true }) as Doc;

const PROMTOOL = has('promtool');
const AMTOOL = has('amtool');
const KUBECTL = has('kubectl');

// The four alerts Remediator ships rules for, and the labels each must carry.
const SHIPPED_ALERTS: Record<string, { by: string[]; severity: string; playbook: string }> = {
  GPUNodeOverheating: { by: ['node'], severity: 'critical', playbook: 'drain-gpu-node' },
  KubePodOOMKilled: { by: ['namespace', 'pod', 'container'], severity: 'warning', playbook: 'restart-oom-pod' },
  LLMHighLatencyP95: { by: ['namespace', 'deployment'], severity: 'warning', playbook: 'scale-replicas' },
  LLMRequestSaturation: { by: ['namespace', 'deployment'], severity: 'warning', playbook: 'scale-replicas' },
};

const RULE_GROUPS = (parse(read('deploy/prometheus/rules.yml')) as Doc).groups as Doc[];
const ALERT_RULES: Doc[] = RULE_GROUPS.flatMap((g) => g.rules as Doc[]);

describe('deploy files parse', () => {
  const yamlFiles = [
    ...walk(DEPLOY).filter((f) => /\.ya?ml$/.test(f) || basename(f) === 'kubeconfig'),
    at('docker-compose.yml'),
  ];

  it.each(yamlFiles.map((f) => relative(ROOT, f)))('%s is valid YAML without duplicate keys', (file) => {
    for (const doc of parseAllDocuments(read(file), { merge: true, uniqueKeys: true })) {
      expect(doc.errors.map((e) => e.message), file).toEqual([]);
      expect(doc.warnings.map((e) => e.message), file).toEqual([]);
    }
  });

  it('the Grafana dashboard is JSON with a query on every panel', () => {
    const dashboard = JSON.parse(read('deploy/grafana/remediator-dashboard.json')) as Doc;
    expect(dashboard.uid).toBe('remediator-overview');
    const panels = (dashboard.panels as Doc[]).filter((p) => p.type !== 'row');
    for (const panel of panels) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    const exprs = panels.flatMap((p) => (p.targets as Doc[]).map((t) => String(t.expr))).join('\n');
    // docs/metrics.md series the dashboard must show.
    for (const metric of [
      'remediator_alert_decisions_total',
      'remediator_runs_total',
      'remediator_guard_blocks_total',
      'remediator_actions_total',
      'remediator_kube_requests_total',
      'remediator_queue_jobs',
      'remediator_paused',
      'remediator_http_request_duration_seconds_bucket',
    ]) {
      expect(exprs).toContain(metric);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');
  const pkg = JSON.parse(read('package.json')) as Doc;
  const ignorePatterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  /** Whether .dockerignore keeps `path` (root-relative) out of the build context: last match wins, a parent excluded excludes it. */
  const ignored = (path: string): boolean => {
    let out = false;
    for (const raw of ignorePatterns) {
      const negated = raw.startsWith('!');
      const pattern = negated ? raw.slice(1) : raw;
      const body = pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\0')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\0/g, '(.*/)?');
      const re = new RegExp(`^${body}(/.*)?$`);
      if (re.test(path)) out = !negated;
    }
    return out;
  };
  /** `COPY <src>... <dest>` lines of one stage (sources from the build context unless --from). */
  const copies = (stage: string): { from?: string; sources: string[]; dest: string }[] => {
    const body = dockerfile.split(/^FROM /m).find((s) => s.startsWith(`\${NODE_IMAGE} AS ${stage}\n`)) ?? '';
    return [...body.matchAll(/^COPY (--from=(\S+) )?(.+)$/gm)].map((m) => {
      const parts = m[3]!.trim().split(/\s+/);
      return { ...(m[2] ? { from: m[2] } : {}), sources: parts.slice(0, -1), dest: parts.at(-1)! };
    });
  };

  it('builds on node:20-bookworm-slim: a build stage compiles, the runtime gets production dependencies only', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS deps$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime$/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
    // No TypeScript loader at run time: tsx is a development dependency (the image runs dist/).
    expect(pkg.dependencies).not.toHaveProperty('tsx');
    expect(pkg.devDependencies).toHaveProperty('tsx');
    expect(pkg.bin.remediator).toBe('bin/remediator.js');
  });

  it('the runtime stage holds dist/, bin/, package.json and the production node_modules, nothing else', () => {
    const runtime = copies('runtime');
    expect(runtime).toContainEqual({ from: 'deps', sources: ['/app/node_modules'], dest: './node_modules' });
    expect(runtime).toContainEqual({ from: 'build', sources: ['/app/dist'], dest: './dist' });
    const fromContext = runtime.filter((c) => !c.from).flatMap((c) => c.sources);
    expect([...fromContext].sort()).toEqual(['LICENSE', 'bin', 'package.json']);
    // bin/remediator.js runs the compiled program.
    expect(read('bin/remediator.js')).toContain('../dist/src/main.js');
  });

  it('the build stage copies every input of `npm run build`, and .dockerignore lets them into the context', () => {
    const sources = copies('build').flatMap((c) => c.sources);
    for (const needed of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'src', 'playbooks']) {
      expect(sources, needed).toContain(needed);
    }
    for (const stage of ['build', 'deps', 'runtime']) {
      for (const c of copies(stage).filter((c) => !c.from)) {
        for (const source of c.sources) {
          expect(existsSync(at(source)), `${stage}: ${source}`).toBe(true);
          expect(ignored(source), `${stage}: ${source} is in .dockerignore`).toBe(false);
        }
      }
    }
    // Nothing of test/ is in the context: the demo's notifications live under src/.
    expect(ignored('test/fixtures/alertmanager/firing-kube-pod-oom-killed.json')).toBe(true);
    expect(ignored('test/integration/build.test.ts')).toBe(true);
  });

  it('runs as a numeric non-root user with the contract entrypoint, port and health check', () => {
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/remediator\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
  });

  it('.dockerignore keeps node_modules, dist/, tests and secrets out', () => {
    for (const path of ['node_modules', 'src/node_modules', 'dist', 'test', 'bench', 'docs', '.git', '.env', 'remediator.yaml', 'kubeconfig']) {
      expect(ignored(path), path).toBe(true);
    }
    for (const path of ['src/main.ts', 'src/ui/app.js', 'playbooks/index.ts', 'bin/remediator.js', '.npmrc', 'scripts/build.mjs']) {
      expect(ignored(path), path).toBe(false);
    }
  });
});

describe('kustomize (deploy/kubernetes)', () => {
  const kustomization = parse(read('deploy/kubernetes/kustomization.yaml')) as Doc;
  const resources = kustomization.resources as string[];

  it('lists every manifest, and only existing files; the Secret example is left out', () => {
    for (const r of resources) expect(existsSync(join(K8S, r)), r).toBe(true);
    const manifests = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...resources].sort()).toEqual(manifests.filter((f) => f !== 'secret.example.yaml').sort());
    expect(kustomization.namespace).toBe('remediator');
  });

  it('puts every namespaced object in the remediator namespace', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
    for (const file of [...resources, 'secret.example.yaml']) {
      for (const d of docs('deploy/kubernetes', file)) {
        if (!clusterScoped.has(d.kind)) expect(d.metadata.namespace, `${file}: ${d.kind}/${d.metadata.name}`).toBe('remediator');
      }
    }
  });

  it('core objects carry no field unknown to the Kubernetes API types (typo check)', () => {
    const lost: string[] = [];
    const diff = (a: unknown, b: unknown, path: string) => {
      if (Array.isArray(a)) a.forEach((x, i) => diff(x, (b as unknown[] | undefined)?.[i], `${path}[${i}]`));
      else if (a !== null && typeof a === 'object') {
        for (const [k, v] of Object.entries(a)) {
          const other = b as Record<string, unknown> | undefined;
          if (other === undefined || other === null || !(k in other)) lost.push(`${path}.${k}`);
          else diff(v, other[k], `${path}.${k}`);
        }
      }
    };
    let checked = 0;
    for (const file of [...resources, 'secret.example.yaml']) {
      for (const d of docs('deploy/kubernetes', file)) {
        if (String(d.apiVersion).startsWith('monitoring.coreos.com/')) continue; // CRDs: not in client-node
        const type = `V1${d.kind}`;
        const back = ObjectSerializer.serialize(ObjectSerializer.deserialize(d, type, ''), type, '') as unknown;
        diff(d, back, `${file}: ${d.kind}/${d.metadata.name}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(15);
    expect(lost).toEqual([]);
  });

  it.skipIf(!KUBECTL)(`kubectl kustomize renders it${skipNote('kubectl', 'kubernetes-client', KUBECTL)}`, () => {
    const r = run('kubectl', ['kustomize', 'deploy/kubernetes']);
    expect(r.status, r.output).toBe(0);
    const kinds = parseAllDocuments(r.output).map((d) => (d.toJS() as Doc).kind as string);
    expect(kinds.sort()).toEqual(
      [
        'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Deployment', 'Namespace', 'NetworkPolicy',
        'PodDisruptionBudget', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'Service', 'Service',
        'ServiceAccount', 'ServiceAccount', 'ServiceMonitor', 'StatefulSet',
      ].sort(),
    );
  });
});

describe('RBAC', () => {
  /*
   * Exactly the calls of src/kube/client-node-cluster.ts:
   *   deployments|statefulsets/scale get, patch     getScale, patchScale (scale-replicas)
   *   deployments, statefulsets get, patch          getWorkload, getPodTemplate; annotate (remediator.dev/last-action), setMemoryLimit
   *   replicasets, daemonsets get                   getWorkload (restart-oom-pod owner resolution)
   *   horizontalpodautoscalers list                 findHpaFor (scale-replicas skips HPA targets)
   *   pods get, list, delete                        getPod, listPods, listPodsOnNode, deletePod
   *   pods/eviction create                          evictPod (restart-oom-pod, drain-gpu-node)
   *   nodes get, list, patch                        getNode, listNodes (node budget), cordon, taints, annotate
   *   namespaces get                                getNamespaceLabels (opt-out label)
   *   events create, get                            createEvent (core/v1); eventExists (a retry after a lost answer reads it back)
   * test/integration/rbac-clusterrole.test.ts checks the same against what the worker really uses.
   */
  const EXPECTED: Record<string, string[]> = {
    'apps/deployments/scale': ['get', 'patch'],
    'apps/statefulsets/scale': ['get', 'patch'],
    'apps/deployments': ['get', 'patch'],
    'apps/statefulsets': ['get', 'patch'],
    'apps/replicasets': ['get'],
    'apps/daemonsets': ['get'],
    'autoscaling/horizontalpodautoscalers': ['list'],
    '/pods': ['delete', 'get', 'list'],
    '/pods/eviction': ['create'],
    'policy/poddisruptionbudgets': ['get'],
    '/nodes': ['get', 'list', 'patch'],
    '/namespaces': ['get'],
    '/events': ['create', 'get'],
  };

  it('the ClusterRole grants exactly the verbs the playbooks use', () => {
    const role = one('ClusterRole', 'remediator');
    const granted: Record<string, string[]> = {};
    for (const rule of role.rules as Doc[]) {
      expect(rule.resourceNames, 'no resourceNames restrictions expected').toBeUndefined();
      for (const group of rule.apiGroups as string[]) {
        for (const resource of rule.resources as string[]) {
          const key = `${group}/${resource}`;
          granted[key] = [...new Set([...(granted[key] ?? []), ...(rule.verbs as string[])])].sort();
        }
      }
    }
    expect(granted).toEqual(EXPECTED);
  });

  it('only the worker is bound to it; the api account has no binding', () => {
    const binding = one('ClusterRoleBinding', 'remediator');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'remediator' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'remediator-worker', namespace: 'remediator' }]);
    expect(one('Deployment', 'remediator-worker').spec.template.spec.serviceAccountName).toBe('remediator-worker');
    expect(one('Deployment', 'remediator-api').spec.template.spec.serviceAccountName).toBe('remediator-api');
    one('ServiceAccount', 'remediator-api');
    one('ServiceAccount', 'remediator-worker');
  });
});

describe('Deployments', () => {
  const config = loadShippedConfig(K8S_CONFIG_TEXT, 'deploy/kubernetes/configmap.yaml');
  const secretKeys = Object.keys(one('Secret', 'remediator-secrets').stringData as Doc);

  it.each([
    ['remediator-api', 'api'],
    ['remediator-worker', 'worker'],
  ])('%s: 2 replicas, role %s, probes, resources, hardened, PDB', (name, role) => {
    const deployment = one('Deployment', name);
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec as Doc;
    const [container] = pod.containers as Doc[];
    expect(container!.args.slice(0, 3)).toEqual(['serve', '--role', role]);
    expect(container!.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container!.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container!.ports).toContainEqual({ name: 'http', containerPort: config.server.port, protocol: 'TCP' });
    expect(container!.resources.requests).toBeDefined();
    expect(container!.resources.limits.memory).toBeDefined();
    expect(container!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    // A writable /tmp on the read-only root filesystem (temporary files).
    expect(container!.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    const pdb = one('PodDisruptionBudget', name);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    // Every secret the config reads is mounted from remediator-secrets.
    const secretVolume = (pod.volumes as Doc[]).find((v) => v.secret?.secretName === 'remediator-secrets');
    const mount = (container!.volumeMounts as Doc[]).find((m) => m.name === secretVolume?.name);
    const files = [config.audit.keyFile!, ...tokenFiles(K8S_CONFIG_TEXT)];
    for (const file of files) {
      expect(dirname(file), file).toBe(mount?.mountPath);
      expect(secretKeys, file).toContain(basename(file));
    }
    for (const env of container!.env as Doc[]) {
      if (env.valueFrom?.secretKeyRef) expect(secretKeys).toContain(env.valueFrom.secretKeyRef.key);
    }
  });

  it('worker grace: longest drain < shutdownGraceSeconds < terminationGracePeriodSeconds', () => {
    const drainTimeouts = config.rules
      .filter((r) => r.playbook === 'drain-gpu-node')
      .map((r) => Number(r.params.timeoutSeconds ?? 600));
    expect(drainTimeouts.length).toBeGreaterThan(0);
    const grace = one('Deployment', 'remediator-worker').spec.template.spec.terminationGracePeriodSeconds as number;
    expect(Math.max(...drainTimeouts)).toBeLessThan(config.server.shutdownGraceSeconds);
    expect(config.server.shutdownGraceSeconds).toBeLessThan(grace);
  });

  it('Services and the ServiceMonitor reach both roles on the http port', () => {
    for (const name of ['remediator-api', 'remediator-worker']) {
      const service = one('Service', name);
      expect(service.spec.selector).toEqual(one('Deployment', name).spec.selector.matchLabels);
      expect(service.spec.ports).toContainEqual({ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' });
    }
    const monitor = one('ServiceMonitor', 'remediator');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.endpoints).toContainEqual(expect.objectContaining({ port: 'http', path: '/metrics' }));
  });

  it('the bundled Redis runs with AOF and noeviction', () => {
    const redis = one('StatefulSet', 'remediator-redis');
    const args = (redis.spec.template.spec.containers[0].args as string[]).join(' ');
    expect(args).toContain('--appendonly yes');
    expect(args).toContain('--maxmemory-policy noeviction');
  });
});

function tokenFiles(configText: string): string[] {
  const raw = parse(configText) as Doc;
  return (raw.auth.tokens as Doc[]).map((t) => String(t.tokenFile));
}

describe('shipped remediator.yaml files', () => {
  it.each([
    ['deploy/kubernetes/configmap.yaml', K8S_CONFIG_TEXT],
    ['deploy/compose/remediator.yaml', COMPOSE_CONFIG_TEXT],
  ])('%s loads and has a rule for each of the four alerts', (source, text) => {
    const config = loadShippedConfig(text, source);
    for (const [alertname, spec] of Object.entries(SHIPPED_ALERTS)) {
      const rule = config.rules.find((r) => r.matcherTexts.includes(`alertname="${alertname}"`));
      expect(rule?.playbook, alertname).toBe(spec.playbook);
    }
    expect(config.audit.keyFile).toBeDefined();
    expect(tokenFiles(text).length).toBe(config.auth.tokens.length);
  });
});

describe('alert rules (the alerts Remediator ships rules for)', () => {
  const prometheusRule = one('PrometheusRule', 'remediator');

  it('the PrometheusRule holds exactly the groups of deploy/prometheus/rules.yml', () => {
    expect(prometheusRule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(prometheusRule.spec.groups).toEqual(RULE_GROUPS);
  });

  it.each(Object.entries(SHIPPED_ALERTS))('%s aggregates to the labels its playbook needs, with its severity', (alertname, spec) => {
    const rules = ALERT_RULES.filter((r) => r.alert === alertname);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.labels.severity).toBe(spec.severity);
      const groupings = [...String(rule.expr).matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g)].map((m) =>
        m[1]!
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s && s !== 'le')
          .sort(),
      );
      expect(groupings.length, String(rule.expr)).toBeGreaterThan(0);
      for (const labels of groupings) expect(labels, String(rule.expr)).toEqual([...spec.by].sort());
    }
  });

  it('uses the documented thresholds and durations', () => {
    const dcgm = ALERT_RULES.find((r) => r.alert === 'GPUNodeOverheating' && String(r.expr).includes('DCGM_FI_DEV_GPU_TEMP'))!;
    expect(dcgm.expr).toBe('max by (node) (DCGM_FI_DEV_GPU_TEMP) > 85');
    expect(dcgm.for).toBe('2m');
    expect(ALERT_RULES.some((r) => r.alert === 'GPUNodeOverheating' && String(r.expr).includes('nvidia_smi_temperature_gpu'))).toBe(true);
    const oom = ALERT_RULES.find((r) => r.alert === 'KubePodOOMKilled')!;
    expect(oom.expr).toContain('kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}');
    expect(oom.expr).toContain('increase(kube_pod_container_status_restarts_total[10m])');
    const latency = ALERT_RULES.find((r) => r.alert === 'LLMHighLatencyP95')!;
    expect(latency.expr).toBe('histogram_quantile(0.95, sum by (le, namespace, deployment) (rate(llm_request_latency_seconds_bucket[5m]))) > 2');
    expect(latency.for).toBe('5m');
    const saturation = ALERT_RULES.find((r) => r.alert === 'LLMRequestSaturation')!;
    expect(saturation.expr).toBe('sum by (namespace, deployment) (llm_active_requests) > 64');
    expect(saturation.for).toBe('5m');
  });

  it('every remediator_* series in the rules and the dashboard exists, with known label values', () => {
    const metrics = new Metrics({ version: 'test', playbooks: [...PLAYBOOKS.keys()], rules: ['r'], defaultMetrics: false });
    const known = new Map<string, Set<string>>();
    for (const m of metrics.registry.getMetricsAsArray()) {
      const labels = new Set<string>((m as unknown as { labelNames: string[] }).labelNames);
      const suffixes = m.constructor.name === 'Histogram' ? ['_bucket', '_count', '_sum'] : [''];
      for (const s of suffixes) known.set(`${m.name}${s}`, s === '_bucket' ? new Set([...labels, 'le']) : labels);
    }
    const values: Record<string, readonly string[]> = {
      status: [...TERMINAL_STATUSES, 'firing', 'resolved'],
      state: QUEUE_STATES,
      guard: GUARD_NAMES,
      decision: DECISIONS,
      action: ACTIONS,
    };
    // `result` means something different on each metric that has it.
    const results: Record<string, readonly string[]> = {
      remediator_actions_total: ACTION_RESULTS,
      remediator_prechecks_total: PRECHECK_RESULTS,
      remediator_verifications_total: VERIFICATION_RESULTS,
      remediator_notifications_total: NOTIFICATION_RESULTS,
    };
    const dashboard = JSON.parse(read('deploy/grafana/remediator-dashboard.json')) as Doc;
    const exprs = [
      ...ALERT_RULES.map((r) => String(r.expr)),
      ...(dashboard.panels as Doc[]).flatMap((p) => ((p.targets ?? []) as Doc[]).map((t) => String(t.expr))),
    ];
    let seen = 0;
    for (const expr of exprs) {
      for (const m of expr.matchAll(/\b(remediator_[a-z_]+)(\{([^}]*)\})?/g)) {
        seen++;
        const labels = known.get(m[1]!);
        expect(labels, `${m[1]} in ${expr}`).toBeDefined();
        for (const matcher of (m[3] ?? '').split(',').filter((s) => s.trim())) {
          const [, name, , value] = /^\s*([a-zA-Z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*$/.exec(matcher) ?? [];
          expect(name, matcher).toBeDefined();
          expect(labels!.has(name!) || ['job', 'instance'].includes(name!), `${name} on ${m[1]}`).toBe(true);
          const allowed = name === 'result' ? results[m[1]!] : values[name!];
          if (name === 'result') expect(allowed, `result on ${m[1]}`).toBeDefined();
          if (allowed) for (const v of value!.split('|')) expect(allowed, `${name}="${v}" in ${expr}`).toContain(v);
        }
      }
    }
    expect(seen).toBeGreaterThan(20);
  });
});

describe('Alertmanager configuration', () => {
  const am = parse(read('deploy/alertmanager/alertmanager.yml')) as Doc;
  const routes = am.route.routes as Doc[];
  const receiver = (am.receivers as Doc[]).find((r) => r.name === 'remediator')!;

  it('sends the four alerts to the remediator receiver and keeps routing (continue: true)', () => {
    const route = routes.find((r) => r.receiver === 'remediator')!;
    expect(route.continue).toBe(true);
    expect(routes.indexOf(route)).toBe(0);
    const [matcher] = route.matchers as string[];
    const regex = new RegExp(`^(?:${/alertname=~"(.*)"/.exec(matcher!)![1]})$`);
    for (const alertname of Object.keys(SHIPPED_ALERTS)) expect(regex.test(alertname), alertname).toBe(true);
    for (const self of ALERT_RULES.filter((r) => String(r.alert).startsWith('Remediator'))) expect(regex.test(self.alert)).toBe(false);
    // A catch-all human route after it: without one, warnings would reach Remediator only.
    expect(routes.at(-1)).toEqual({ receiver: am.route.receiver });
  });

  it('the webhook posts to the api Service with a token file, resolved alerts and no truncation', () => {
    const [webhook] = receiver.webhook_configs as Doc[];
    expect(webhook!.url).toBe('http://remediator-api.remediator:8080/api/v1/alerts');
    expect(webhook!.send_resolved).toBe(true);
    expect(webhook!.max_alerts).toBe(0);
    expect(webhook!.http_config.authorization.credentials_file).toMatch(/^\/etc\/alertmanager\/secrets\/remediator-webhook\//);
    expect(webhook!.http_config.authorization.credentials).toBeUndefined();
  });
});

describe('docker-compose.yml', () => {
  const services = COMPOSE.services as Doc;

  it('has the services of the stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['alertmanager', 'prometheus', 'redis', 'remediator-api', 'remediator-worker', 'secrets-init', 'sim'].sort(),
    );
  });

  it('bind mounts existing files, declares its volumes, depends on existing services', () => {
    const declared = Object.keys(COMPOSE.volumes as Doc);
    for (const [name, service] of Object.entries(services) as [string, Doc][]) {
      for (const volume of (service.volumes ?? []) as string[]) {
        const [source] = volume.split(':');
        if (source!.startsWith('.')) expect(existsSync(at(source!)), `${name}: ${source}`).toBe(true);
        else expect(declared, `${name}: ${source}`).toContain(source);
      }
      for (const dep of Object.keys((service.depends_on ?? {}) as Doc)) expect(services, `${name} -> ${dep}`).toHaveProperty(dep);
      if (service.build) expect(existsSync(at(service.build.context, service.build.dockerfile))).toBe(true);
    }
  });

  it('runs api, worker and the sim from the image, against Redis with AOF and noeviction', () => {
    expect(services['remediator-api'].command).toEqual(['serve', '--role', 'api']);
    expect(services['remediator-worker'].command).toEqual(['serve', '--role', 'worker']);
    expect(services.sim.command).toEqual(['sim', '--port', '6443', '--host', '0.0.0.0']);
    for (const role of ['remediator-api', 'remediator-worker']) {
      expect(services[role].environment.REDIS_URL).toBe('redis://redis:6379');
      expect(services[role].read_only).toBe(true);
    }
    const redis = (services.redis.command as string[]).join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
  });

  it('points the kubeconfig at the sim and Alertmanager at the api by its in-cluster name', () => {
    const kubeconfig = parse(read('deploy/compose/kubeconfig')) as Doc;
    expect(kubeconfig.clusters[0].cluster).toEqual({ server: 'http://sim:6443', 'insecure-skip-tls-verify': true });
    const config = loadShippedConfig(COMPOSE_CONFIG_TEXT, at('deploy/compose/remediator.yaml'));
    const mounts = services['remediator-api'].volumes as string[];
    expect(mounts).toContain(`./deploy/compose/kubeconfig:${config.kubernetes.kubeconfig}:ro`);
    const am = parse(read('deploy/alertmanager/alertmanager.yml')) as Doc;
    const url = new URL((am.receivers as Doc[]).find((r) => r.name === 'remediator')!.webhook_configs[0].url as string);
    expect(services['remediator-api'].networks.default.aliases).toContain(url.hostname);
    expect(url.port).toBe(String(config.server.port));
    const credentials = (am.receivers as Doc[]).find((r) => r.name === 'remediator')!.webhook_configs[0].http_config.authorization
      .credentials_file as string;
    expect(services.alertmanager.volumes).toContain(`alertmanager-secrets:${dirname(credentials)}:ro`);
    const stopGrace = Number(/^(\d+)s$/.exec(String(services['remediator-worker'].stop_grace_period))?.[1]);
    expect(stopGrace).toBeGreaterThan(config.server.shutdownGraceSeconds);
  });
});

describe('promtool and amtool', () => {
  it.skipIf(!PROMTOOL)(`promtool check rules deploy/prometheus/rules.yml${skipNote('promtool', 'prometheus', PROMTOOL)}`, () => {
    const r = run('promtool', ['check', 'rules', 'deploy/prometheus/rules.yml']);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!PROMTOOL)(`promtool test rules deploy/prometheus/rules.test.yml${skipNote('promtool', 'prometheus', PROMTOOL)}`, () => {
    const r = run('promtool', ['test', 'rules', 'deploy/prometheus/rules.test.yml']);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!PROMTOOL)(`promtool check config deploy/prometheus/prometheus.yml${skipNote('promtool', 'prometheus', PROMTOOL)}`, () => {
    const r = run('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!PROMTOOL)(`the dashboard's queries are valid PromQL${skipNote('promtool', 'prometheus', PROMTOOL)}`, () => {
    const dashboard = JSON.parse(read('deploy/grafana/remediator-dashboard.json')) as Doc;
    const exprs = (dashboard.panels as Doc[]).flatMap((p) => ((p.targets ?? []) as Doc[]).map((t) => String(t.expr)));
    const dir = mkdtempSync(join(tmpdir(), 'remediator-dashboard-'));
    try {
      const file = join(dir, 'dashboard-rules.yml');
      const rules = exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr: expr.replaceAll('$__rate_interval', '5m') }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = run('promtool', ['check', 'rules', file]);
      expect(r.status, r.output).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!AMTOOL)(`amtool check-config deploy/alertmanager/alertmanager.yml${skipNote('amtool', 'prometheus-alertmanager', AMTOOL)}`, () => {
    const r = run('amtool', ['check-config', 'deploy/alertmanager/alertmanager.yml']);
    expect(r.status, r.output).toBe(0);
  });

  it.skipIf(!AMTOOL)(`amtool: the four alerts reach Remediator and a human, others only humans${skipNote('amtool', 'prometheus-alertmanager', AMTOOL)}`, () => {
    const receivers = (labels: string[]) => {
      const r = run('amtool', ['config', 'routes', 'test', '--config.file=deploy/alertmanager/alertmanager.yml', ...labels]);
      expect(r.status, r.output).toBe(0);
      return (r.output.split('\n')[0] ?? '').trim().split(',');
    };
    for (const [alertname, spec] of Object.entries(SHIPPED_ALERTS)) {
      const got = receivers([`alertname=${alertname}`, `severity=${spec.severity}`]);
      expect(got[0], alertname).toBe('remediator');
      expect(got.length, alertname).toBe(2);
    }
    expect(receivers(['alertname=RemediatorPaused', 'severity=warning'])).not.toContain('remediator');
  });
});
