import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { runSimCommand } from '../../src/sim/run-sim-command.js';
import { simKubeconfigYaml } from '../../src/sim/sim-kubeconfig.js';

describe('sim: `remediator sim` command logic', () => {
  it('starts the server, prints its URL and writes a usable kubeconfig', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const { cluster, kubeconfigPath } = await runSimCommand({ port: 0, out, handleSignals: false });
    try {
      expect(printed).toContain(cluster.url);
      expect(printed).toContain(kubeconfigPath);
      expect(printed).toContain('not a real cluster');
      const kc = new k8s.KubeConfig();
      kc.loadFromString(readFileSync(kubeconfigPath, 'utf8'));
      expect(kc.getCurrentCluster()).toMatchObject({ server: cluster.url, skipTLSVerify: true });
      const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode();
      expect(nodes.items).toHaveLength(5);
    } finally {
      await cluster.close();
      rmSync(dirname(kubeconfigPath), { recursive: true, force: true });
    }
  });

  it('produces a kubeconfig with the sim context and token', () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(simKubeconfigYaml('http://127.0.0.1:1234', 't0k'));
    expect(kc.getCurrentContext()).toBe('sim');
    expect(kc.getCurrentUser()?.token).toBe('t0k');
  });
});
