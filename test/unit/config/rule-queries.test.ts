import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.js';
import { validateConfigText } from '../../../src/config/load-config.js';
import { playbooks } from '../../../playbooks/index.js';

const PLAYBOOKS = new Map(playbooks.map((p) => [p.name, p]));
const PROM = 'prometheus: { url: "http://prometheus:9090" }\n';
const AM = 'alertmanager: { url: "http://alertmanager:9093" }\n';

function rule(extra: string): string {
  return `rules:
  - name: hot
    matchers: ['alertname="GPUNodeOverheating"', 'severity=~"critical|page"', 'team!="ml"']
    playbook: drain-gpu-node
${extra
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
`;
}

function problems(text: string): { path: string; message: string }[] {
  try {
    validateConfigText(text, 'test.yaml', PLAYBOOKS, { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.details;
    throw err;
  }
  return [];
}

describe('precheck and verify in remediator.yaml', () => {
  it('accepts placeholders in quoted strings for labels the matchers require or the playbook reads', () => {
    const text =
      PROM +
      AM +
      rule(`precheck: >-
  max(DCGM_FI_DEV_GPU_TEMP{node="{{ labels.node }}", sev=~'{{labels.severity}}', a="{{ labels.alertname }}"}) > 85
verify: { within: 10m, query: 'DCGM_FI_DEV_GPU_TEMP{Hostname="{{ labels.Hostname }}"} > 85', silence: true }`);
    expect(problems(text)).toEqual([]);
  });

  it('refuses a placeholder outside quotes', () => {
    expect(problems(PROM + rule(`precheck: 'DCGM_FI_DEV_GPU_TEMP{node="x"} > {{ labels.node }}'`))).toEqual([
      { path: 'rules[0].precheck', message: 'placeholder {{ labels.node }} must stand inside a quoted string, e.g. node="{{ labels.node }}"' },
    ]);
  });

  it('refuses a placeholder in a raw string and an unknown placeholder form', () => {
    const found = problems(PROM + rule('precheck: \'up{job=`{{ labels.node }}`} or up{job="{{ node }}"}\''));
    expect(found.map((p) => p.message)).toEqual([
      'placeholder {{ labels.node }} cannot stand in a raw (backtick) string: use "…" or \'…\'',
      'unrecognised placeholder "{{ node }}" (write {{ labels.NAME }})',
    ]);
  });

  it('refuses a placeholder for a label no matcher requires and the playbook does not read', () => {
    const found = problems(PROM + rule(`precheck: 'up{team="{{ labels.team }}", x="{{ labels.pod }}"}'`));
    expect(found).toHaveLength(2);
    expect(found[0]!.path).toBe('rules[0].precheck');
    expect(found[0]!.message).toContain('no matcher of this rule requires the label "team"');
    expect(found[1]!.message).toContain('"pod"');
    expect(found[0]!.message).toContain('usable: Hostname, alertname, hostname, instance, kubernetes_node, node, severity');
  });

  it('refuses precheck or verify.query without prometheus', () => {
    expect(problems(AM + rule(`precheck: 'up'\nverify: { within: 5m, query: 'up' }`))).toEqual([
      { path: 'rules[0].precheck', message: 'needs prometheus.url to run the query' },
      { path: 'rules[0].verify.query', message: 'needs prometheus.url to run the query' },
    ]);
  });

  it('refuses verify without query and without alertmanager, and silence without alertmanager', () => {
    expect(problems(PROM + rule(`verify: { within: 5m, silence: true }`))).toEqual([
      { path: 'rules[0].verify', message: 'without a query, verify asks Alertmanager whether the alert still fires: set alertmanager.url, or give verify.query' },
      { path: 'rules[0].verify.silence', message: 'needs alertmanager.url to create the silence' },
    ]);
    expect(problems(PROM + rule(`verify: { within: 5m, query: 'up', silence: true }`))).toEqual([
      { path: 'rules[0].verify.silence', message: 'needs alertmanager.url to create the silence' },
    ]);
  });

  it('refuses unknown keys and conflicting auth in prometheus and alertmanager', () => {
    const found = problems(
      'prometheus: { url: "http://p:9090", bearerTokenFile: /t, basicAuth: { username: u, passwordFile: /p } }\nalertmanager: { url: "http://a:9093", tls: { certFile: /c }, token: x }\n',
    );
    expect(found.map((p) => `${p.path}: ${p.message}`).sort()).toEqual([
      'alertmanager.tls: set certFile and keyFile together',
      'alertmanager.token: unknown key',
      'prometheus: set at most one of bearerTokenFile and basicAuth',
    ].sort());
  });

  it('derives the verify interval from within unless given', () => {
    const config = validateConfigText(PROM + rule(`verify: { within: 10m, query: 'up' }`), 'test.yaml', PLAYBOOKS, { env: {} });
    expect(config.rules[0]!.verify).toEqual({ withinMs: 600_000, intervalMs: 60_000, silence: false, query: 'up' });
    const short = validateConfigText(PROM + rule(`verify: { within: 20s, query: 'up', interval: 2s }`), 'test.yaml', PLAYBOOKS, { env: {} });
    expect(short.rules[0]!.verify!.intervalMs).toBe(2000);
  });
});
