import { describe, expect, it } from 'vitest';
import { NOTIFICATION_EVENTS } from '../../../src/engine/notification-sink.js';
import { escapeSlack, slackLink, slackMessage, type SlackBlock } from '../../../src/notify/slack-message.js';
import { DETAILS, runFor } from '../../helpers/notification-runs.js';

const LINK_BASE = 'https://remediator.example.internal/ui/#/runs/';

function blockTexts(blocks: SlackBlock[]): string[] {
  return blocks.map((b) => (b.type === 'context' ? b.elements.map((e) => e.text).join(' ') : b.text.text));
}

describe('Slack message', () => {
  for (const event of NOTIFICATION_EVENTS) {
    it(`${event}: what was done, the outcome, the alert and a link to the run`, () => {
      const run = runFor(event);
      const detail = DETAILS[event];
      const msg = slackMessage({ event, run, link: `${LINK_BASE}${run.id}`, ...(detail ? { detail } : {}) });
      const [header, what, alert, labels, footer] = msg.blocks;
      expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context', 'context']);
      const all = blockTexts(msg.blocks).join('\n');

      // The fallback is one line naming the event, the playbook, the target, the status and the summary.
      expect(msg.text).not.toContain('\n');
      expect(msg.text).toContain(`${run.playbook} on ${run.target} (${run.status})`);
      expect(msg.text).toContain('p95 latency of vllm-llama is 3.2s');

      expect(blockTexts([header!])[0]!.length).toBeLessThanOrEqual(150);
      expect(blockTexts([header!])[0]).toContain('scale-replicas on deployment/llm/vllm-llama');
      const whatText = blockTexts([what!])[0]!;
      expect(whatText).toContain(`*Run* <${LINK_BASE}${run.id}|${run.id}>`);
      expect(whatText).toContain('*Playbook* scale-replicas on *deployment/llm/vllm-llama*');
      expect(whatText).toContain('*Params* namespace=llm, kind=Deployment, name=vllm-llama, replicas=6');
      expect(whatText).toContain('*Why* rule scale-on-latency, alert LLMHighLatencyP95');
      expect(whatText).toContain(`*Outcome* ${run.status}`);
      if (run.reason) expect(whatText).toContain(`*Outcome* ${run.status}: ${run.reason}`);
      if (detail) expect(whatText).toContain(`*${event === 'escalation' ? 'Escalation' : 'Detail'}* ${detail}`);

      const alertText = blockTexts([alert!])[0]!;
      expect(alertText).toContain('*Alert* LLMHighLatencyP95: p95 latency of vllm-llama is 3.2s');
      expect(alertText).toContain('Requests to llm/vllm-llama take longer than 2s at p95 for 5m.');
      expect(alertText).toContain('*Runbook* <https://runbooks.example.internal/llm/latency|runbook>');
      // `&` in a URL is escaped too: Slack decodes entities inside links.
      expect(alertText).toContain('<http://prometheus:9090/graph?g0.expr=llm_request_latency&amp;g0.tab=1|graph>');
      expect(blockTexts([labels!])[0]).toBe('Labels: alertname=LLMHighLatencyP95, namespace=llm, deployment=vllm-llama, severity=warning');
      expect(blockTexts([footer!])[0]).toContain(`<${LINK_BASE}${run.id}|open the run>`);
      expect(all.length).toBeGreaterThan(0);
    });
  }

  it('per-event specifics: approval, guard, steps and health, verification', () => {
    const text = (event: (typeof NOTIFICATION_EVENTS)[number]) => {
      const run = runFor(event);
      return blockTexts(slackMessage({ event, run, link: `${LINK_BASE}${run.id}`, ...(DETAILS[event] ? { detail: DETAILS[event] } : {}) }).blocks).join('\n');
    };
    expect(text('awaiting_approval')).toContain('*Approval* required by the rule');
    expect(text('awaiting_approval')).toContain('*Steps* none yet');
    expect(text('blocked')).toContain('*Guard* cooldown: last run on deployment/llm/vllm-llama 3m ago (cooldown 10m)');
    expect(text('succeeded')).toContain('*Steps* 1 Kubernetes request, changed the cluster');
    expect(text('succeeded')).toContain('*Health* healthy: 6/6 replicas available');
    expect(text('failed')).toContain('*Steps* 1 Kubernetes request (1 failed), nothing changed');
    expect(text('escalation')).toContain('*Verification* not_resolved: LLMHighLatencyP95 still firing after 10m');
  });

  it('escapes &, < and > in alert text, so it can neither forge a link nor mention @channel', () => {
    const run = runFor('failed');
    run.trigger.alert!.annotations = {
      summary: 'latency <!channel> & <https://evil.example|click here>',
      description: 'a > b && c < d',
      runbook_url: 'javascript:alert(1)',
    };
    run.trigger.alert!.labels = { alertname: 'X', team: '<@U123>' };
    run.reason = 'failed: <b>bold</b>';
    const msg = slackMessage({ event: 'failed', run, link: `${LINK_BASE}${run.id}` });
    const all = [msg.text, ...blockTexts(msg.blocks)].join('\n');
    expect(all).toContain('latency &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;');
    expect(all).toContain('a &gt; b &amp;&amp; c &lt; d');
    expect(all).toContain('team=&lt;@U123&gt;');
    expect(all).toContain('failed: &lt;b&gt;bold&lt;/b&gt;');
    // Not an http(s) URL: shown as text, never as a link.
    expect(all).toContain('*Runbook* javascript:alert(1)');
    expect(all).not.toContain('<javascript');
    expect(all).not.toMatch(/<!channel>|<@U123>|<https:\/\/evil/);
  });

  it('a run without an alert (manual) has no alert blocks; a relative run link is text', () => {
    const run = runFor('succeeded', { trigger: { source: 'manual', operator: 'alice', reason: 'load test' } });
    const msg = slackMessage({ event: 'succeeded', run, link: `/ui/#/runs/${run.id} (set ui.externalUrl for a full link)` });
    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    const all = blockTexts(msg.blocks).join('\n');
    expect(all).toContain('*Why* manual, by alice: load test');
    expect(all).toContain(`*Run* /ui/#/runs/${run.id} (set ui.externalUrl for a full link)`);
    expect(msg.text).not.toContain('alert');
  });

  it('a dry run says so', () => {
    const run = runFor('succeeded', { dryRun: true, changed: false });
    const msg = slackMessage({ event: 'succeeded', run, link: `${LINK_BASE}${run.id}` });
    expect(msg.text).toContain('Succeeded (dry run)');
    expect(blockTexts(msg.blocks).join('\n')).toContain('dry run: nothing changed');
  });

  it("keeps to Slack's limits without cutting an entity in half", () => {
    const run = runFor('failed');
    run.trigger.alert!.annotations = { summary: 'x'.repeat(400), description: '&'.repeat(5000) };
    run.reason = '<'.repeat(5000);
    const msg = slackMessage({ event: 'failed', run, link: `${LINK_BASE}${run.id}` });
    for (const block of msg.blocks) {
      const [text] = blockTexts([block]);
      const max = block.type === 'header' ? 150 : block.type === 'section' ? 3000 : 2000;
      expect(text!.length).toBeLessThanOrEqual(max);
      // Every `&` starts a whole entity.
      expect(text!.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    }
    expect(msg.text.length).toBeLessThanOrEqual(300);
  });

  it('escapeSlack and slackLink', () => {
    expect(escapeSlack('a & <b> c')).toBe('a &amp; &lt;b&gt; c');
    expect(slackLink('https://x.example/a?b=1&c=|2', 'see <this>')).toBe('<https://x.example/a?b=1&amp;c=%7C2|see &lt;this&gt;>');
    expect(slackLink('not a url <x>', 'text')).toBe('not a url &lt;x&gt;');
  });
});
