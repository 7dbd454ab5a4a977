import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { killHard, spawnWorker, waitWorkerReady, type WorkerProcess } from '../helpers/worker-processes.js';
import { startRun, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { startSimCluster } from '../../src/sim/sim-cluster.js';
import { parseSeed } from '../../src/sim/sim-seed.js';
import { CLAIM_TTL_MS } from '../../src/engine/claim-timing.js';
import type { Remediator } from '../../src/composition-root.js';

const RUNS = 6;
/** Each run waits this long for its replacement pod: several lock lifetimes. */
const READY_DELAY_MS = 3 * CLAIM_TTL_MS;

function seed(): string {
  const deployments = Array.from({ length: RUNS }, (_, i) => `
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: svc-${i}, namespace: ml, labels: { app: svc-${i} } }
    spec:
      replicas: 1
      selector: { matchLabels: { app: svc-${i} } }
      template:
        metadata: { labels: { app: svc-${i} } }
        spec: { containers: [{ name: main, image: busybox:1.36, resources: { requests: { cpu: 10m, memory: 16Mi } } }] }`).join('');
  const pods = Array.from({ length: RUNS }, (_, i) => `\n  - { name: svc-${i}-6f9c7d5b8-abcd${i}, namespace: ml, owner: Deployment/svc-${i}, node: cpu-1 }`).join('');
  return `options: { readyDelayMs: ${READY_DELAY_MS}, terminationDelayMs: 0 }
nodes: [{ name: cpu-1, cpu: "32", memory: 131687712Ki }]
namespaces: [{ name: default }, { name: ml }]
objects:${deployments}
pods:${pods}
`;
}

/**
 * Claims live CLAIM_TTL_MS (5 s) so a dead worker's run is resumed within seconds; the price
 * would be false stalls if a busy worker could not renew them in time. Here the worker keeps six
 * runs waiting for three lock lifetimes each while two processes burn both cores: no run may
 * be taken over (each finishes in its first attempt) and no lock may be lost.
 */
describe('no false stalls under CPU load on two cores', () => {
  let rig: ScenarioRig;
  let api: Remediator;
  let worker: WorkerProcess;
  const burners: ChildProcess[] = [];

  beforeAll(async () => {
    const sim = async () => {
      const cluster = await startSimCluster({ seed: parseSeed(seed(), 'no-false-stalls') });
      for (let i = 0; i < RUNS; i++) cluster.markOOMKilled('ml', `svc-${i}-6f9c7d5b8-abcd${i}`, 'main');
      return cluster;
    };
    rig = await startScenarioRig({ sim, roles: ['api'], options: { guards: { maxConcurrentRuns: RUNS } } });
    api = rig.main;
    worker = await spawnWorker(rig.config.path, 'info');
    await waitWorkerReady(worker);
  }, 90_000);

  afterAll(async () => {
    for (const b of burners) b.kill('SIGKILL');
    if (worker) await killHard(worker);
    await rig?.stop();
  });

  it(`${RUNS} runs of ${READY_DELAY_MS / 1000} s each finish in their first attempt while both cores are busy`, async () => {
    for (let i = 0; i < 2; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    const ids = await Promise.all(
      Array.from({ length: RUNS }, (_, i) =>
        startRun(api, { playbook: 'restart-oom-pod', params: { namespace: 'ml', pod: `svc-${i}-6f9c7d5b8-abcd${i}`, container: 'main', waitForReadySeconds: 60 } }),
      ),
    );
    const runs = await Promise.all(ids.map((id) => waitTerminal(api, id, 90_000)));
    for (const b of burners) b.kill('SIGKILL');

    expect(runs.map((r) => [r.status, r.attempts])).toEqual(runs.map(() => ['succeeded', 1]));
    const log = worker.output();
    expect(log).toContain('run finished');
    expect(log).not.toMatch(/job stalled|lost the job lock|target lock lost|could not renew lock/);
  }, 120_000);
});
