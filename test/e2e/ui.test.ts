/**
 * The review page at /ui/ (audit-review issue, item 4): served by api processes with a strict
 * CSP, and driven end to end in headless Debian Chromium through playwright-core: sign in with a
 * viewer token, filter the runs, open a drain run that needed approval and see its evicted pods
 * and approver, open the audit timeline and verify the chain. Screenshots land in
 * test-results/ui/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, fixture, TOKENS, type Harness } from '../helpers/harness.js';
import { notification } from '../helpers/alerts.js';
import { browserUnavailable, launchBrowser, screenshot, type BrowserHandle } from '../helpers/browser.js';
import type { Run } from '../../src/domain/run.js';

describe('GET /ui/ (static page)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ roles: ['api', 'worker'] });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('redirects /ui to /ui/ and serves the page without a token, with a strict CSP', async () => {
    const redirect = await fetch(`${h.main.url}/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/ui/');

    const page = await fetch(`${h.main.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // No inline script: the only script is the module served from this origin.
    expect(html.match(/<script\b[^>]*>/g)).toEqual([expect.stringMatching(/^<script type="module" src="app\.js\?v=[0-9a-f]{16}">$/)]);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);

    const version = /app\.js\?v=([0-9a-f]{16})/.exec(html)![1]!;
    const js = await fetch(`${h.main.url}/ui/app.js?v=${version}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const source = await js.text();
    expect(source).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(/);
    const unversioned = await fetch(`${h.main.url}/ui/style.css`);
    expect(unversioned.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(unversioned.headers.get('cache-control')).toBe('no-cache');
    const etag = unversioned.headers.get('etag')!;
    expect((await fetch(`${h.main.url}/ui/style.css`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    expect((await fetch(`${h.main.url}/ui/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${h.main.url}/ui/ui-routes.ts`)).status).toBe(404);
    // A worker serves only /metrics, /healthz and /readyz.
    expect((await fetch(`${h.processes[1]!.url}/ui/`)).status).toBe(404);
  });
});

const unavailable = await browserUnavailable();
const title = unavailable
  ? `review page in headless Chromium — SKIPPED: ${unavailable}`
  : 'review page in headless Chromium (Debian chromium + playwright-core)';

/** A label value that would run script if the page ever inserted data as HTML. */
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

describe.skipIf(unavailable !== undefined)(title, () => {
  let h: Harness;
  let b: BrowserHandle;
  let drain: Run;
  let scale: Run;
  let auditApi: boolean;

  beforeAll(async () => {
    h = await startHarness({ extra: 'guards: { manualApproval: destructive }' });
    // An alert-driven scale, from the captured Alertmanager notification.
    const scaled = await h.post(fixture('firing-llm-high-latency-p95').body);
    expect(scaled.status).toBe(200);
    scale = await h.waitRun(scaled.body.decisions[0].runId);
    expect(scale.status).toBe('succeeded');
    // An alert whose labels carry markup.
    const hostile = await h.post(
      notification([
        {
          labels: { alertname: 'LLMHighLatencyP95', namespace: 'ml-serving', deployment: 'embedding-service', severity: 'warning', note: HOSTILE },
          annotations: { summary: HOSTILE, runbook_url: 'javascript:window.__pwned=2' },
          generatorURL: 'data:text/html,<script>window.__pwned=3</script>',
        },
      ]),
    );
    await h.waitRun(hostile.body.decisions[0].runId);

    // A manual drain: destructive, so a second operator must approve it.
    const created = await h.call('/api/v1/runs', TOKENS.operator, { playbook: 'drain-gpu-node', params: { node: 'gpu-node-3', deleteEmptyDirData: true }, reason: 'GPU 0 at 91°C, fans replaced tomorrow' });
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('awaiting_approval');
    const approved = await h.call(`/api/v1/runs/${created.body.id}/approve`, TOKENS.admin, { reason: 'checked DCGM dashboard' });
    expect(approved.status).toBe(200);
    drain = await h.waitRun(created.body.id, undefined, 60_000);
    expect(drain).toMatchObject({ status: 'succeeded', approval: { decision: 'approved', by: 'root' } });
    expect(drain.steps.filter((s) => s.action === 'evict').length).toBeGreaterThan(0);

    auditApi = (await h.get('/api/v1/audit?limit=1', TOKENS.viewer)).status === 200;
    b = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await h?.stop();
  });

  it('signs in, filters runs, opens the approved drain, reads the audit timeline, signs out', async () => {
    const { page } = b;
    await page.goto(`${h.main.url}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await page.locator('#token').waitFor();
    await screenshot(page, 'sign-in');

    // Sign-in: a wrong token is refused and not kept.
    await page.locator('#token').fill('not-a-real-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#sign-in-error').textContent()).toContain('not accepted');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Chromium logs the refused request itself; nothing else may have gone wrong.
    expect(b.problems.splice(0).filter((p) => !/status of 401/.test(p))).toEqual([]);

    await page.locator('#token').fill(TOKENS.viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#runs-table tbody tr').first().waitFor();
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([TOKENS.viewer]);
    expect(await page.locator('#runs-table tbody tr').count()).toBe(3);
    await screenshot(page, 'runs');

    // Paging through nextCursor: two, then the third, then no more.
    await page.goto(`${h.main.url}/ui/#/runs?limit=2`);
    await expect.poll(() => page.locator('#runs-table tbody tr').count()).toBe(2);
    await page.locator('#load-more').click();
    await expect.poll(() => page.locator('#runs-table tbody tr').count()).toBe(3);
    expect(await page.locator('#load-more').count()).toBe(0);
    const ids = await page.locator('#runs-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
    expect(new Set(ids).size).toBe(3);

    // Filter by playbook: only the drain is left.
    await page.locator('#f-playbook').selectOption('drain-gpu-node');
    await page.locator('#apply-filters').click();
    await page.waitForURL(/#\/runs\?playbook=drain-gpu-node$/);
    await expect.poll(() => page.locator('#runs-table tbody tr').count()).toBe(1);
    const row = page.locator(`#runs-table tbody tr[data-run-id="${drain.id}"]`);
    expect(await row.locator('.badge').textContent()).toContain('succeeded');
    expect(await row.textContent()).toContain('approved by root');

    // The drain run's page: evicted pods, approver, operator, each mutation.
    await row.getByRole('link', { name: 'drain-gpu-node' }).click();
    await page.waitForURL(new RegExp(`#/runs/${drain.id}$`));
    await page.locator('#summary-evict').waitFor();
    const evicted = drain.steps.filter((s) => s.action === 'evict').map((s) => s.object);
    const shown = await page.locator('#summary-evict li code').allTextContents();
    expect(shown.sort()).toEqual([...evicted].sort());
    expect(await page.locator('#summary-evict h3').textContent()).toBe(`Evicted pods (${evicted.length})`);
    expect(await page.locator('#approver').textContent()).toBe('root');
    expect(await page.locator('#run-operator').textContent()).toBe('alice');
    expect(await page.locator('#steps-table tbody tr').count()).toBe(drain.steps.length);
    const cordon = page.locator('#steps-table tbody tr.step-cordon');
    expect(await cordon.textContent()).toContain('{"unschedulable":false}');
    expect(await cordon.textContent()).toContain('{"unschedulable":true}');
    expect(await page.locator('#run-reason').textContent()).toBe(drain.reason);
    if (auditApi) {
      await page.locator('.timeline .entry-operator_action').first().waitFor();
      expect(await page.locator('.timeline').textContent()).toContain('checked DCGM dashboard');
    } else {
      expect(await page.locator('main').textContent()).toContain('does not offer the audit API');
    }
    await screenshot(page, 'drain-run');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'drain-run-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Alert labels are text, never markup.
    const hostileRun = (await h.get('/api/v1/runs?target=deployment/ml-serving/embedding-service', TOKENS.viewer)).body.items[0] as Run;
    await page.goto(`${h.main.url}/ui/#/runs/${hostileRun.id}`);
    // Wait for this run's page, not the one before it.
    await page.locator(`main code:text-is("${hostileRun.id}")`).waitFor();
    expect(await page.locator('.labels').textContent()).toContain(HOSTILE);
    expect(await page.locator('#alert-summary').textContent()).toBe(HOSTILE);
    // A runbook or graph URL that is not http(s) is shown, never linked.
    expect(await page.locator('main a.ext-link').count()).toBe(0);
    expect(await page.locator('main').textContent()).toContain('javascript:window.__pwned=2');
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // The alert's own words, with its runbook and graph as links out of the page.
    await page.goto(`${h.main.url}/ui/#/runs/${scale.id}`);
    await page.locator(`main code:text-is("${scale.id}")`).waitFor();
    expect(await page.locator('#alert-summary').textContent()).toBe('llm-api p95 latency is above 2s');
    expect(await page.locator('main').textContent()).toContain('has been 3.42s (threshold 2s) for 10 minutes');
    const links = await page.locator('main a.ext-link').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel')]));
    expect(links).toEqual([
      ['https://runbooks.example.internal/llm/llmhighlatencyp95', '_blank', 'noopener noreferrer'],
      [scale.trigger.alert!.generatorURL, '_blank', 'noopener noreferrer'],
    ]);

    // The audit timeline, filtered by target, and the chain verification.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.waitForURL(/#\/audit$/);
    if (auditApi) {
      await page.locator('#audit-list .entry').first().waitFor();
      await page.locator('#f-target').fill('node/gpu-node-3');
      await page.locator('#apply-filters').click();
      await page.waitForURL(/#\/audit\?target=node%2Fgpu-node-3$/);
      await expect.poll(async () => (await page.locator('#audit-list .entry').allTextContents()).every((t) => t.includes('node/gpu-node-3'))).toBe(true);
      expect(await page.locator('#audit-list .entry-kube_mutation').count()).toBeGreaterThan(0);
      await page.locator('#verify-chain').click();
      await expect.poll(() => page.locator('#verify-result').textContent(), { timeout: 15_000 }).toMatch(/Chain intact: \d+ entries checked/);
    } else {
      await page.locator('main .notice').waitFor();
    }
    await screenshot(page, 'audit');
    expect(b.problems).toEqual([]);
    if (auditApi) {
      // A filter the API rejects keeps the form and says why.
      await page.locator('#f-since').fill('yesterday');
      await page.locator('#apply-filters').click();
      await expect.poll(() => page.locator('main .notice-error').textContent()).toContain('since');
      expect(await page.locator('#f-since').inputValue()).toBe('yesterday');
    }
    await page.goto(`${h.main.url}/ui/#/runs?since=last-tuesday`);
    await page.locator('#f-status').waitFor();
    await expect.poll(() => page.locator('main .notice-error').textContent()).toContain('since');
    // Chromium logs the refused requests itself.
    expect(b.problems.splice(0).filter((p) => !/status of 400/.test(p))).toEqual([]);

    // The alert inbox: an alert no rule matches is there, with why and its summary.
    const unmatched = await h.post(notification([{ labels: { alertname: 'NodeDiskFull', node: 'cpu-node-1', severity: 'warning' }, annotations: { summary: 'disk 97% full on cpu-node-1' } }]));
    expect(unmatched.body.decisions[0].decision).toBe('unmatched');
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.waitForURL(/#\/alerts$/);
    const inboxRow = page.locator('#alerts-table tbody tr', { hasText: 'NodeDiskFull' });
    await inboxRow.waitFor();
    expect(await inboxRow.textContent()).toContain('disk 97% full on cpu-node-1');
    expect(await inboxRow.locator('.tag').first().textContent()).toBe('unmatched');
    expect(await page.locator('#alerts-table tbody tr', { hasText: 'LLMHighLatencyP95' }).count()).toBeGreaterThan(0);
    await screenshot(page, 'alerts');

    // Sign out clears the tab's token.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#token').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(b.problems).toEqual([]);
  }, 90_000);

  it('shows banners when automation is paused or in dry-run', async () => {
    const dry = await startHarness({ extra: 'dryRun: true', roles: ['api'] });
    try {
      await dry.call('/api/v1/pause', TOKENS.admin, { reason: 'GPU firmware rollout' });
      await dry.call('/api/v1/pause', TOKENS.admin, { reason: 'no drains during the launch', playbook: 'drain-gpu-node' });
      const { page } = b;
      await page.goto(`${dry.main.url}/ui/#/runs`);
      await page.locator('#token').fill(TOKENS.viewer);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('.banner-paused').count()).toBe(2);
      const paused = await page.locator('.banner-paused').allTextContents();
      expect(paused.join('\n')).toMatch(/All automation is paused by root.*GPU firmware rollout/);
      expect(paused.join('\n')).toMatch(/Playbook drain-gpu-node is paused by root.*no drains during the launch/);
      expect(await page.locator('.banner-dry').textContent()).toContain('Dry-run mode');
      await screenshot(page, 'banners');
    } finally {
      await dry.stop();
    }
    expect(b.problems).toEqual([]);
  });
});
