import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS, startRun, startScenarioRig, waitTerminal, type ScenarioRig } from '../helpers/fault-rig.js';
import { kubectl, kubectlEnv, type KubectlEnv } from '../helpers/sim-helpers.js';

/**
 * `kubectl describe` lists an object's Events by a field selector that includes the object's uid
 * (docs/playbooks.md, Marks): Events without `involvedObject.uid` show as `Events: <none>`.
 */
describe('kubectl describe shows the Remediation Events', () => {
  let rig: ScenarioRig;
  let env: KubectlEnv;

  beforeAll(async () => {
    rig = await startScenarioRig();
    env = kubectlEnv(rig.sim);
    for (const name of ['drain-gpu-node', 'scale-replicas']) {
      const run = await waitTerminal(rig.main, await startRun(rig.main, SCENARIOS[name]!));
      expect(run.status, run.reason).toBe('succeeded');
    }
  });

  afterAll(async () => {
    env?.dispose();
    await rig?.stop();
  });

  it('kubectl describe node lists the cordon and drain Events', async () => {
    const out = await kubectl(env, ['describe', 'node', 'gpu-a']);
    expect(out.code, out.stderr).toBe(0);
    const events = out.stdout.slice(out.stdout.indexOf('Events:'));
    expect(events).toMatch(/Normal\s+RemediationCordon\s+.*remediator\s+cordoned node gpu-a/);
    expect(events).toMatch(/Normal\s+RemediationDrain\s+.*evicting 2 pods from node gpu-a/);
  });

  it('kubectl describe deployment lists the scale Event', async () => {
    const out = await kubectl(env, ['-n', 'ml', 'describe', 'deployment', 'web']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.slice(out.stdout.indexOf('Events:'))).toMatch(/Normal\s+RemediationScale\s+.*scaled deployment\/ml\/web from 3 to 4/);
  });
});
