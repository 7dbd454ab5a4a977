/**
 * `remediator sim`: the simulated cluster on its own, with a kubeconfig written to a temporary
 * directory so that kubectl (or a Remediator started separately) can talk to it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCluster, type SimCluster } from './sim-cluster.js';
import { loadSeedFile } from './sim-seed.js';

export interface RunSimOptions {
  seedFile?: string;
  port?: number;
  host?: string;
  /** Where to print (default process.stdout). */
  out?: NodeJS.WritableStream;
  /** Stop on SIGINT/SIGTERM (default true; tests pass false and close the returned cluster). */
  handleSignals?: boolean;
}

export interface RunningSim {
  cluster: SimCluster;
  kubeconfigPath: string;
}

export async function runSimCommand(opts: RunSimOptions = {}): Promise<RunningSim> {
  const out = opts.out ?? process.stdout;
  const seed = opts.seedFile ? loadSeedFile(opts.seedFile) : undefined;
  const cluster = await startSimCluster({
    ...(seed ? { seed } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
  });
  const dir = mkdtempSync(join(tmpdir(), 'remediator-sim-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, cluster.kubeconfigYaml(), { mode: 0o600 });
  const nodes = cluster.list('nodes').length;
  const pods = cluster.list('pods').length;
  out.write(
    [
      `Simulated Kubernetes API server (not a real cluster) listening on ${cluster.url}`,
      `  seed: ${opts.seedFile ?? 'bundled GPU cluster'} (${nodes} nodes, ${pods} pods)`,
      `  kubeconfig: ${kubeconfigPath}`,
      `  try: kubectl --kubeconfig ${kubeconfigPath} get nodes`,
      '',
    ].join('\n'),
  );
  if (opts.handleSignals !== false) {
    const stop = () => {
      void cluster.close().finally(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  return { cluster, kubeconfigPath };
}
