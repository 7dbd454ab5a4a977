import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';

/**
 * A folder `remediator serve --config <dir>/remediator.yaml` can run from: a kubeconfig for the
 * simulated cluster, an audit key, the Alertmanager token as a file, and one scale rule.
 */
export function writeServeDir(opts: { simUrl: string; redisUrl: string; prefix: string; amToken: string; shutdownGraceSeconds?: number; prefixDir?: string }): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), opts.prefixDir ?? 'remediator-serve-'));
  writeFileSync(join(dir, 'kubeconfig'), simKubeconfigYaml(opts.simUrl));
  writeFileSync(join(dir, 'audit-key'), randomBytes(32).toString('hex'));
  writeFileSync(join(dir, 'am-token'), opts.amToken);
  const config = join(dir, 'remediator.yaml');
  writeFileSync(
    config,
    `server: { port: 8080, shutdownGraceSeconds: ${opts.shutdownGraceSeconds ?? 10} }
redis: { url: '${opts.redisUrl}', prefix: ${opts.prefix} }
kubernetes: { kubeconfig: ./kubeconfig }
auth:
  tokens:
    - { name: alertmanager, role: alertmanager, tokenFile: ./am-token }
audit: { keyFile: ./audit-key }
rules:
  - name: scale-slow-llm
    matchers: ['alertname="LLMHighLatencyP95"']
    playbook: scale-replicas
    params: { maxReplicas: 6 }
`,
  );
  return { dir, config };
}
