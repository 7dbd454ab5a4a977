/**
 * The review page acts (issue 14), in headless Debian Chromium on the demo's data (the compiled
 * `remediator demo`): an operator approves the waiting run and watches it run to `succeeded`
 * without a reload, starts a manual dry-run scale from the playbook's form, is not offered to
 * approve their own drain (the API refuses it, 403), cancels a queued run and stops a running one; the runs list and the
 * inbox update live; an admin pauses, is refused (409) a run while paused, and resumes; a viewer
 * is offered none of these. Screenshots of the runs list, a run's page and the inbox go to
 * test-results/ui/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { browserUnavailable, launchBrowser, screenshot, type BrowserHandle } from '../helpers/browser.js';
import { startDemo, type DemoProcess } from '../helpers/demo-process.js';
import { pollUntil } from '../helpers/sim-helpers.js';
import { SIM_DEFAULT_TOKEN } from '../../src/sim/sim-kubeconfig.js';
import type { Run } from '../../src/domain/run.js';

const unavailable = await browserUnavailable();

describe.skipIf(unavailable !== undefined)('the review page acts, on the demo', () => {
  let demo: DemoProcess;
  let b: BrowserHandle;

  const call = async <T = Record<string, unknown>>(path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${demo.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const run = async (id: string): Promise<Run> => (await call<Run>(`/api/v1/runs/${id}`, demo.tokens.viewer)).body;
  const runsOf = async (query: string): Promise<Run[]> => (await call<{ items: Run[] }>(`/api/v1/runs?${query}`, demo.tokens.viewer)).body.items;
  const waitStatus = async (id: string, statuses: string[], timeoutMs = 30_000): Promise<Run> => {
    let last: Run | undefined;
    try {
      return await pollUntil(async () => {
        last = await run(id);
        return statuses.includes(last.status) ? last : undefined;
      }, `run ${id} to be ${statuses.join(' or ')}`, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; it is ${last?.status}: ${last?.reason ?? ''}`);
    }
  };

  /** Signs in on a fresh page load; the page shows the runs list. */
  const signIn = async (page: Page, token: string): Promise<void> => {
    await page.goto(`${demo.url}/ui/#/runs`);
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.locator('#token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#runs-table tbody tr').first().waitFor();
  };
  /** Fills the reason in the open action dialog and confirms. */
  const confirmWith = async (page: Page, reason: string): Promise<void> => {
    await page.locator('dialog[open] #action-reason').fill(reason);
    await page.locator('dialog[open] #action-confirm').click();
  };
  const badge = (page: Page) => page.locator('main h1 .badge').textContent();
  /** A marker that a full page load would wipe: proves an update came without a reload. */
  const mark = (page: Page) => page.evaluate(() => ((window as unknown as { __noReload?: boolean }).__noReload = true));
  const stillMarked = (page: Page) => page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload === true);

  beforeAll(async () => {
    demo = await startDemo();
    b = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await b?.close();
    await demo?.stop();
  });

  it('an operator approves the waiting run and sees it run to succeeded live; starts a dry-run scale from the form', async () => {
    const { page } = b;
    await signIn(page, demo.tokens.operator);
    expect(await page.locator('#caller').textContent()).toBe('demo-operator (operator)');
    await screenshot(page, 'actions-runs');

    // The run the demo left waiting: raise-memory-limit, escalated from the OOM restart.
    const [waiting] = await runsOf('status=awaiting_approval&playbook=raise-memory-limit');
    expect(waiting).toBeDefined();
    await page.locator(`#runs-table tr[data-run-id="${waiting!.id}"] a.run-link`).click();
    await page.locator('#approve-run').waitFor();
    expect(await page.locator('#reject-run').count()).toBe(1);
    await mark(page);

    // A reason is required; the dialog says so and sends nothing.
    await page.locator('#approve-run').click();
    await page.locator('dialog[open] #action-confirm').click();
    expect(await page.locator('dialog[open] #action-error').textContent()).toContain('A reason is required');
    expect((await run(waiting!.id)).status).toBe('awaiting_approval');
    await confirmWith(page, 'limit 16Gi is too tight for the new model');
    await expect.poll(() => page.locator('#flash-message').textContent()).toContain('Approved');

    // Live: the page follows the run to its end, with its steps, without a reload.
    await expect.poll(() => badge(page), { timeout: 60_000 }).toContain('succeeded');
    expect(await stillMarked(page)).toBe(true);
    const done = await run(waiting!.id);
    expect(done).toMatchObject({ status: 'succeeded', approval: { decision: 'approved', by: 'demo-operator', reason: 'limit 16Gi is too tight for the new model' } });
    await expect.poll(() => page.locator('#steps-table tbody tr').count()).toBe(done.steps.length);
    expect(await page.locator('#steps-table').textContent()).toContain('deployment/ml-serving/llm-api');
    expect(await page.locator('#approve-run').count()).toBe(0);
    await screenshot(page, 'actions-run-approved');

    // The escalation holds llm-api for its rule until someone acknowledges; a second ack is refused (409) in words.
    await page.locator('#ack-run').click();
    await confirmWith(page, 'memory raised; the rule may act again');
    await expect.poll(() => page.locator('#flash-message').textContent()).toContain('Acknowledged');
    await page.locator('#ack-run').click();
    await confirmWith(page, 'again');
    await expect.poll(() => page.locator('dialog[open] #action-error').textContent()).toBe('Refused (409): deployment/ml-serving/llm-api is not held by an escalation of rule restart-oom-killed-pods.');
    await page.locator('dialog[open] #action-cancel').click();

    // A manual dry-run scale from the playbook's JSON Schema, rendered as a form.
    await page.goto(`${demo.url}/ui/#/runs`);
    await page.locator('#start-run').click();
    await page.locator('#run-playbook').selectOption('scale-replicas');
    await page.locator('#param-maxReplicas').waitFor();
    expect(await page.locator('#run-dry-run').isChecked()).toBe(true);
    // Required fields are checked before anything is sent.
    await page.locator('#run-submit').click();
    expect(await page.locator('#param-namespace-error').textContent()).toBe('required');
    await page.locator('#param-namespace').fill('ml-serving');
    await page.locator('#param-name').fill('llm-api');
    await page.locator('#param-maxReplicas').fill('8');
    await page.locator('#param-step').fill('2');
    await page.locator('#run-reason-input').fill('what would a scale to 5 do?');
    await page.locator('#run-submit').click();
    await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/);
    const manualId = /#\/runs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
    await expect.poll(() => badge(page), { timeout: 30_000 }).toContain('succeeded');
    const manual = await run(manualId);
    expect(manual).toMatchObject({ playbook: 'scale-replicas', dryRun: true, changed: false, params: { namespace: 'ml-serving', name: 'llm-api', maxReplicas: 8, step: 2 }, trigger: { source: 'manual', operator: 'demo-operator' } });
    expect(manual.steps.every((s) => s.result === 'dry_run' && s.request.dryRun)).toBe(true);
    expect(await page.locator('main').textContent()).toContain('what would a scale to 5 do?');

    // A page left open after the token's role was taken away: the API refuses (403) and names the role needed.
    await page.route('**/api/v1/runs', (route) =>
      route.request().method() === 'POST' ? route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${demo.tokens.viewer}` } }) : route.continue(),
    );
    await page.locator('#rerun').click();
    await confirmWith(page, 'once more');
    await expect.poll(() => page.locator('dialog[open] #action-error').textContent()).toBe('Refused (403): role viewer may not do this; it needs operator.');
    await page.locator('dialog[open] #action-cancel').click();
    await page.unroute('**/api/v1/runs');
    expect(b.problems.filter((p) => !/status of 40[39]/.test(p))).toEqual([]);
    b.problems.length = 0;
  }, 180_000);

  it('does not offer approving your own drain; cancels a queued run and stops a running one; the lists update live', async () => {
    const { page } = b;
    // The demo's drain left gpu-node-3 cordoned, and the node budget allows one node out at a time:
    // the admin asks to uncordon it (destructive, so the operator approves), which frees the budget.
    const uncordon = await call<{ id: string; status: string }>('/api/v1/runs', demo.tokens.admin, { playbook: 'uncordon-node', params: { node: 'gpu-node-3' }, reason: 'gpu-node-3 cooled down' });
    expect(uncordon.status).toBe(202);
    if (uncordon.body.status === 'awaiting_approval') expect((await call(`/api/v1/runs/${uncordon.body.id}/approve`, demo.tokens.operator, { reason: 'temperatures normal' })).status).toBe(200);
    await waitStatus(uncordon.body.id, ['succeeded']);

    // A budget that allows no disruption keeps a drain of gpu-node-1 (trainer-0 runs there) evicting: it holds the node.
    const pdb = await fetch(`${demo.simUrl}/apis/policy/v1/namespaces/ml-training/poddisruptionbudgets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SIM_DEFAULT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'trainer-hold', namespace: 'ml-training' }, spec: { maxUnavailable: 0, selector: { matchLabels: { 'app.kubernetes.io/name': 'trainer' } } } }),
    });
    expect(pdb.status).toBe(201);

    // The operator starts the drain from the form; destructive, so it waits for a second person.
    await page.goto(`${demo.url}/ui/#/new-run?playbook=drain-gpu-node`);
    await page.locator('#param-node').fill('gpu-node-1');
    await page.locator('#param-deleteEmptyDirData').selectOption('true');
    await page.locator('#param-timeoutSeconds').fill('120');
    await page.locator('#run-dry-run').uncheck();
    await page.locator('#run-reason-input').fill('gpu-node-1 ECC errors');
    await page.locator('#run-submit').click();
    await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/);
    const drainId = /#\/runs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
    await expect.poll(() => badge(page)).toContain('awaiting approval');

    // Your own run: approving it is not offered (the API would refuse it, 403), rejecting or cancelling is.
    expect(await page.locator('#own-run-note').textContent()).toBe('You asked for this run: another operator approves it.');
    expect(await page.locator('#approve-run').count()).toBe(0);
    expect(await page.locator('#reject-run').count()).toBe(1);
    expect((await call(`/api/v1/runs/${drainId}/approve`, demo.tokens.operator, { reason: 'looks fine to me' })).body).toMatchObject({ message: 'demo-operator asked for this run and cannot also approve it; another operator must' });
    expect((await run(drainId)).status).toBe('awaiting_approval');

    // A second drain of the same node, asked before the first holds it; the admin approves both.
    const second = await call<{ id: string; status: string }>('/api/v1/runs', demo.tokens.operator, { playbook: 'drain-gpu-node', params: { node: 'gpu-node-1', deleteEmptyDirData: true, timeoutSeconds: 120 }, reason: 'second try' });
    expect(second.body.status).toBe('awaiting_approval');
    await page.goto(`${demo.url}/ui/#/runs`);
    await page.locator(`#runs-table tr[data-run-id="${second.body.id}"]`).waitFor();
    await mark(page);
    expect((await call(`/api/v1/runs/${drainId}/approve`, demo.tokens.admin, { reason: 'second pair of eyes' })).status).toBe(200);
    await waitStatus(drainId, ['running']);
    expect((await call(`/api/v1/runs/${second.body.id}/approve`, demo.tokens.admin, { reason: 'second pair of eyes' })).status).toBe(200);
    // The runs list follows without a reload: the first running, the second queued behind its lock.
    const row = (id: string) => page.locator(`#runs-table tr[data-run-id="${id}"] .badge`);
    await expect.poll(() => row(drainId).textContent(), { timeout: 10_000 }).toContain('running');
    await expect.poll(() => row(second.body.id).textContent(), { timeout: 10_000 }).toContain('queued');
    expect(await stillMarked(page)).toBe(true);

    // Cancel the queued run from its page.
    await page.locator(`#runs-table tr[data-run-id="${second.body.id}"] a.run-link`).click();
    await page.locator('#cancel-run').click();
    await confirmWith(page, 'one drain is enough');
    await expect.poll(() => badge(page), { timeout: 15_000 }).toContain('cancelled');
    expect(await run(second.body.id)).toMatchObject({ status: 'cancelled', changed: false, steps: [] });

    // Stop the running drain from its page: it ends before its next request.
    await page.goto(`${demo.url}/ui/#/runs/${drainId}`);
    expect(await page.locator('#cancel-run').textContent()).toBe('Stop…');
    await page.locator('#cancel-run').click();
    await confirmWith(page, 'the PDB will not let it finish');
    await expect.poll(() => badge(page), { timeout: 20_000 }).toMatch(/cancelled|failed/);
    const stopped = await run(drainId);
    expect(stopped.cancelRequested).toMatchObject({ by: 'demo-operator', reason: 'the PDB will not let it finish' });

    // The inbox follows a new notification without a reload.
    await page.goto(`${demo.url}/ui/#/alerts`);
    await page.locator('#alerts-table').waitFor();
    await mark(page);
    const posted = await call('/api/v1/alerts', demo.tokens.webhook, {
      version: '4', groupKey: '{}:{alertname="DemoTrySomething"}', status: 'firing', receiver: 'remediator', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am:9093', truncatedAlerts: 0,
      alerts: [{ status: 'firing', labels: { alertname: 'DemoTrySomething', severity: 'info' }, annotations: { summary: 'posted by the page test' }, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: 'e2e0000000000001' }],
    });
    expect(posted.status).toBe(200);
    await page.locator('#alerts-table tr[data-fingerprint="e2e0000000000001"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#alerts-table tr[data-fingerprint="e2e0000000000001"]').textContent()).toContain('unmatched');
    expect(await stillMarked(page)).toBe(true);
    await screenshot(page, 'actions-inbox');
    expect(b.problems.filter((p) => !/status of 403/.test(p))).toEqual([]);
    b.problems.length = 0;
  }, 180_000);

  it('an admin pauses (and is refused a run while paused, 409), then resumes; a viewer is offered none of these', async () => {
    const { page } = b;
    await signIn(page, demo.tokens.admin);
    await page.goto(`${demo.url}/ui/#/automation`);
    await page.locator('#pause-global').click();
    await confirmWith(page, 'maintenance window');
    await expect.poll(() => page.locator('#banners').textContent()).toContain('All automation is paused');
    expect((await call<{ paused: Record<string, unknown> }>('/api/v1/status', demo.tokens.viewer)).body.paused).toHaveProperty('global');
    await expect.poll(() => page.locator('#automation-table tr[data-scope="global"]').textContent()).toContain('maintenance window');

    // While paused a manual run is refused, and the form says why.
    await page.goto(`${demo.url}/ui/#/new-run?playbook=scale-replicas`);
    await page.locator('#param-namespace').waitFor();
    expect(await page.locator('#run-bypass').count()).toBe(1);
    await page.locator('#param-namespace').fill('ml-serving');
    await page.locator('#param-name').fill('llm-api');
    await page.locator('#param-maxReplicas').fill('8');
    await page.locator('#run-reason-input').fill('during the pause');
    await page.locator('#run-submit').click();
    await expect.poll(() => page.locator('#run-form-error').textContent()).toMatch(/^Refused \(409\): .*paused/);

    // One playbook paused and resumed from its row.
    await page.goto(`${demo.url}/ui/#/automation`);
    await page.locator('#pause-drain-gpu-node').click();
    await confirmWith(page, 'drains need a look first');
    await expect.poll(() => page.locator('#banners').textContent()).toContain('Playbook drain-gpu-node is paused');
    await page.locator('#automation-table #resume-drain-gpu-node').click();
    await confirmWith(page, 'looked');
    await expect.poll(() => page.locator('#banners').textContent()).not.toContain('drain-gpu-node');
    await expect.poll(() => page.locator('#automation-table tr[data-scope="drain-gpu-node"]').textContent()).toContain('active');

    // Resume everything from the banner.
    await page.locator('#banners #resume-global').click();
    await confirmWith(page, 'maintenance done');
    await expect.poll(() => page.locator('#banners').textContent()).not.toContain('paused');
    expect((await call<{ paused: Record<string, unknown> }>('/api/v1/status', demo.tokens.viewer)).body.paused).toEqual({});

    // A viewer: no action anywhere, and the form is not offered.
    await signIn(page, demo.tokens.viewer);
    expect(await page.locator('#start-run').count()).toBe(0);
    const [anyRun] = await runsOf('playbook=raise-memory-limit');
    await page.goto(`${demo.url}/ui/#/runs/${anyRun!.id}`);
    await page.locator('#steps-table').waitFor();
    expect(await page.locator('main button, main .actions').count()).toBe(0);
    await page.goto(`${demo.url}/ui/#/automation`);
    await page.locator('#automation-table').waitFor();
    expect(await page.locator('main button').count()).toBe(0);
    await page.goto(`${demo.url}/ui/#/new-run`);
    await expect.poll(() => page.locator('main').textContent()).toContain('may not start runs');
    expect(await page.locator('main form').count()).toBe(0);
    expect(b.problems.filter((p) => !/status of 409/.test(p))).toEqual([]);
  }, 120_000);
});
