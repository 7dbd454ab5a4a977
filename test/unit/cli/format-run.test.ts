import { describe, expect, it } from 'vitest';
import { formatAge, formatChange, formatDuration, formatSpan, renderRunDetail, renderRunList, runSource, shortId } from '../../../src/cli/client/format-run.js';
import { renderTable, truncate } from '../../../src/cli/client/text-table.js';
import { RUN_ID, sampleRun } from './fake-api.js';

const NOW = Date.parse('2026-01-01T03:05:00.000Z');

describe('tables', () => {
  it('aligns columns under their headers and truncates with …', () => {
    const text = renderTable(['A', 'LONGER'], [['x', 'y'], ['wide value', 'z']]);
    expect(text).toBe('A           LONGER\nx           y\nwide value  z\n');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });

  it('fits the last column to the width and keeps cells on one line', () => {
    const text = renderTable(['ID', 'REASON'], [['1', 'a very long reason\nwith a newline that goes on and on']], { width: 24 });
    const lines = text.trimEnd().split('\n');
    expect(lines[1]).toBe('1   a very long reason …');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(24);
  });
});

describe('run formatting', () => {
  it('short IDs, ages, durations and sources', () => {
    expect(shortId(RUN_ID)).toBe('3f2a9c1e');
    expect(formatSpan(45_000)).toBe('45s');
    expect(formatSpan(12 * 60_000)).toBe('12m');
    expect(formatSpan(185 * 60_000)).toBe('3h5m');
    expect(formatSpan(52 * 3_600_000)).toBe('2d4h');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(2_450)).toBe('2.5s');
    expect(formatDuration(190_000)).toBe('3m10s');
    expect(formatAge('2026-01-01T03:00:00.000Z', NOW)).toBe('5m');
    expect(formatAge(undefined, NOW)).toBe('-');
    expect(runSource(sampleRun())).toBe('manual:alice');
    expect(runSource(sampleRun({ trigger: { source: 'alert', rule: 'scale-slow-llm' } }))).toBe('alert:scale-slow-llm');
  });

  it('before → after shows what changed', () => {
    expect(formatChange({ replicas: 2 }, { replicas: 3 })).toBe('replicas: 2 → 3');
    expect(formatChange({ unschedulable: false }, { unschedulable: true })).toBe('unschedulable: false → true');
    expect(formatChange({ replicas: 3 }, { replicas: 3 })).toBe('replicas: 3 (unchanged)');
    expect(formatChange(undefined, 'evicted')).toBe('→ evicted');
    expect(formatChange(undefined, undefined)).toBe('');
  });

  it('lists runs as an aligned table with ID short form, STATUS, PLAYBOOK, TARGET, SOURCE, AGE, REASON', () => {
    const runs = [
      sampleRun(),
      sampleRun({ id: 'aaaabbbb-0000-4000-8000-000000000000', status: 'blocked', reason: undefined, guard: { guard: 'paused', detail: 'automation is paused globally' }, trigger: { source: 'alert', rule: 'drain-overheated-gpu-nodes' }, target: 'node/gpu-node-3', playbook: 'drain-gpu-node' }),
      sampleRun({ id: 'ccccdddd-0000-4000-8000-000000000000', status: 'succeeded', dryRun: true }),
    ];
    const lines = renderRunList(runs, NOW).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+PLAYBOOK\s+TARGET\s+SOURCE\s+AGE\s+REASON$/);
    expect(lines[1]).toMatch(/^3f2a9c1e\s+succeeded\s+scale-replicas\s+deployment\/ml-serving\/llm-api\s+manual:alice\s+5m\s+scaled deployment/);
    expect(lines[2]).toMatch(/blocked\s+drain-gpu-node\s+node\/gpu-node-3\s+alert:drain-overheated-gpu-nodes .*guard paused: automation is paused globally$/);
    expect(lines[3]).toContain('succeeded (dry)');
    // Every column starts at the same offset on every line.
    for (const header of ['STATUS', 'PLAYBOOK', 'TARGET', 'SOURCE', 'AGE', 'REASON']) {
      const at = lines[0]!.indexOf(header);
      for (const line of lines.slice(1)) {
        expect(line[at - 1]).toBe(' ');
        expect(line[at]).not.toBe(' ');
      }
    }
    expect(renderRunList([], NOW)).toBe('No runs found.\n');
  });

  it('cuts REASON to the terminal width', () => {
    const text = renderRunList([sampleRun({ reason: 'x'.repeat(300) })], NOW, 100);
    for (const line of text.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).toContain('…');
  });

  it('shows a run with its trigger, guard, approval and steps', () => {
    const text = renderRunDetail(
      sampleRun({
        trigger: { source: 'alert', rule: 'scale-slow-llm', alert: { alertname: 'LLMHighLatencyP95', fingerprint: 'abc123', startsAt: '2026-01-01T02:59:00Z', labels: { namespace: 'ml-serving', deployment: 'llm-api' } } },
        approval: { requiredBy: 'rule', decision: 'approved', by: 'bob', reason: 'lgtm', at: '2026-01-01T03:00:00.500Z' },
        guard: { guard: 'node_budget', detail: '1 of 1 nodes unschedulable' },
      }),
      NOW,
    );
    expect(text).toContain(`Run:      ${RUN_ID}`);
    expect(text).toMatch(/Status:\s+succeeded\s+changed: yes/);
    expect(text).toMatch(/Trigger:\s+alert, rule scale-slow-llm/);
    expect(text).toMatch(/Alert:\s+LLMHighLatencyP95\s+fingerprint abc123/);
    expect(text).toMatch(/Labels:\s+namespace=ml-serving deployment=llm-api/);
    expect(text).toMatch(/Guard:\s+node_budget: 1 of 1 nodes unschedulable/);
    expect(text).toMatch(/Approval:\s+required by the rule; approved by bob at .*: lgtm/);
    expect(text).toMatch(/Finished:.*took 2\.5s/);
    expect(text).toMatch(/#\s+AT\s+ACTION\s+OBJECT\s+RESULT\s+BEFORE → AFTER/);
    expect(text).toMatch(/1\s+03:00:02\s+scale\s+deployment\/ml-serving\/llm-api\s+ok\s+replicas: 2 → 3/);
  });

  it('says plainly when a run was dry or is waiting for approval', () => {
    expect(renderRunDetail(sampleRun({ dryRun: true, changed: false }), NOW)).toContain('dry run: nothing was changed');
    const fromAlert = sampleRun({ trigger: { source: 'alert', rule: 'scale-slow-llm', alert: { fingerprint: 'f1', alertname: 'LLMHighLatencyP95', startsAt: '2026-12-07T10:00:00Z', labels: {} } } });
    expect(renderRunDetail({ ...fromAlert, seen: 4, lastSeenAt: '2026-12-07T10:04:00Z' }, NOW)).toMatch(/Sent:\s+4 notifications, the last at 2026-12-07T10:04:00Z/);
    expect(renderRunDetail(fromAlert, NOW)).not.toContain('Sent');
    expect(renderRunDetail(sampleRun(), NOW)).not.toContain('Sent');
    const looped = renderRunDetail(
      sampleRun({
        precheck: { query: 'p95{deployment="llm-api"} > 2', result: 'pass', detail: '1 sample: {deployment="llm-api"} 3.4' },
        health: { result: 'healthy', detail: 'deployment/ml-serving/llm-api: 4/4 available', at: '2026-01-01T03:00:02Z' },
        verification: { result: 'resolved', detail: 'the query returns nothing; silence s-1 expired', at: '2026-01-01T03:01:00Z', deadline: '2026-01-01T03:15:00Z', checks: 2, silenceId: 's-1' },
      }),
      NOW,
    );
    const worded = renderRunDetail(
      sampleRun({
        trigger: {
          source: 'alert',
          rule: 'oom',
          alert: { alertname: 'KubePodOOMKilled', fingerprint: 'f1', startsAt: '2026-01-01T02:59:00Z', labels: { pod: 'p' }, annotations: { summary: 'Container llm-api was OOM-killed', description: 'twice\nin 10m', runbook_url: 'https://runbooks.example/oom' }, generatorURL: 'http://prometheus:9090/graph?g0.expr=x' },
        },
        escalations: ['run-follow-up-1'],
      }),
      NOW,
    );
    expect(worded).toMatch(/Summary:\s+Container llm-api was OOM-killed\n/);
    expect(worded).toMatch(/Description:\s+twice in 10m\n/);
    expect(worded).toMatch(/Runbook:\s+https:\/\/runbooks.example\/oom\n/);
    expect(worded).toMatch(/Graph:\s+http:\/\/prometheus:9090\/graph\?g0.expr=x\n/);
    expect(worded).toMatch(/Escalated to:\s+run-follow-up-1\n/);
    const followUp = renderRunDetail(sampleRun({ trigger: { source: 'escalation', rule: 'oom' }, escalatedFrom: 'run-origin-1' }), NOW);
    expect(followUp).toMatch(/Trigger:\s+escalation of rule oom, from run run-origin-1\n/);
    expect(looped).toMatch(/Precheck:\s+pass: p95\{deployment="llm-api"\} > 2 -> 1 sample: \{deployment="llm-api"\} 3.4\n/);
    expect(looped).toMatch(/Health:\s+healthy: deployment\/ml-serving\/llm-api: 4\/4 available\n/);
    expect(looped).toMatch(/Verification:\s+resolved: the query returns nothing; silence s-1 expired \(at 2026-01-01T03:01:00Z\); silence s-1\n/);
    const waiting = renderRunDetail(sampleRun({ status: 'awaiting_approval', steps: [], approval: { requiredBy: 'manualApproval' } }), NOW);
    expect(waiting).toMatch(/Approval:\s+required by guards.manualApproval; pending: another operator must approve or reject/);
    expect(waiting).toContain('(no Kubernetes requests)');
  });
});
