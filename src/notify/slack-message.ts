import { EVENT_TITLES, outcomeLines, paramsSummary, stepsSummary, triggerSummary, type NotificationInput } from './run-summary.js';
import type { NotificationEvent } from '../engine/notification-sink.js';

/** A Slack incoming-webhook payload: `text` is the one-line fallback (notifications, old clients). */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

type SlackText = { type: 'mrkdwn'; text: string } | { type: 'plain_text'; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text: SlackText }
  | { type: 'context'; elements: SlackText[] };

const EMOJI: Record<NotificationEvent, string> = {
  awaiting_approval: ':raised_hand:',
  started: ':arrow_forward:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  blocked: ':no_entry:',
  escalation: ':rotating_light:',
};

// Slack's limits: header 150 characters, section text 3000, context element text 2000.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const CONTEXT_MAX = 2000;
const FALLBACK_MAX = 300;

/**
 * Slack's mrkdwn control characters (`&`, `<`, `>`) as entities, so alert text can neither
 * break the formatting nor forge a link or a mention (`<!channel>`).
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escaped and cut to `max` characters without splitting an entity. */
function esc(text: string, max: number): string {
  const escaped = escapeSlack(text);
  if (escaped.length <= max) return escaped;
  return `${escaped.slice(0, max - 1).replace(/&[a-z]{0,3}$/, '')}…`;
}

/**
 * `<url|text>` for an http(s) URL; anything else (a relative run link, a runbook that is not a
 * URL) is shown as escaped text, never as a link.
 */
export function slackLink(url: string, text: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return esc(url, 500);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.href.length > 2000) return esc(url, 500);
  const href = escapeSlack(parsed.href).replace(/\|/g, '%7C');
  return `<${href}|${esc(text, 200)}>`;
}

/** The Slack incoming-webhook body for one notification. */
export function slackMessage(input: NotificationInput): SlackMessage {
  const { run, event, link } = input;
  const alert = run.trigger.alert;
  const annotations = alert?.annotations ?? {};
  const dry = run.dryRun ? ' (dry run)' : '';
  const title = `${EVENT_TITLES[event]}${dry}: ${run.playbook} on ${run.target}`;

  const what = [
    `*Run* ${slackLink(link, run.id)}`,
    `*Playbook* ${esc(run.playbook, 200)} on *${esc(run.target, 300)}*`,
    `*Params* ${esc(paramsSummary(run.params), 500)}`,
    `*Steps* ${esc(stepsSummary(run), 200)}`,
    `*Why* ${esc(triggerSummary(run), 500)}`,
    ...outcomeLines(input).map(([label, text]) => `*${label}* ${esc(text, 600)}`),
  ];
  const blocks: SlackBlock[] = [
    // Plain text: shown as is (no escaping needed); the emoji shortcode is rendered.
    { type: 'header', text: { type: 'plain_text', text: cut(`${EMOJI[event]} ${title}`, HEADER_MAX), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: fit(what) } },
  ];

  if (alert) {
    const lines = [`*Alert* ${esc(alert.alertname, 200)}${annotations.summary ? `: ${esc(annotations.summary, 500)}` : ''}`];
    if (annotations.description) lines.push(esc(annotations.description, 1500));
    const links = [
      annotations.runbook_url ? `*Runbook* ${slackLink(annotations.runbook_url, 'runbook')}` : '',
      alert.generatorURL ? slackLink(alert.generatorURL, 'graph') : '',
    ].filter(Boolean);
    if (links.length > 0) lines.push(links.join(' · '));
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: fit(lines) } });
    const labels = Object.entries(alert.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
    if (labels) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Labels: ${esc(labels, CONTEXT_MAX - 10)}` }] });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Remediator · ${slackLink(link, 'open the run')}` }] });

  const summary = annotations.summary ? ` — ${annotations.summary}` : alert ? ` — alert ${alert.alertname}` : '';
  const fallback = `${EVENT_TITLES[event]}${dry}: ${run.playbook} on ${run.target} (${run.status})${summary}`;
  return { text: esc(fallback.replace(/\s+/g, ' '), FALLBACK_MAX), blocks };
}

function cut(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** Joins lines into one section text; lines past the limit are dropped (each line is already cut). */
function fit(lines: string[]): string {
  let text = '';
  for (const line of lines) {
    const next = text ? `${text}\n${line}` : line;
    if (next.length > SECTION_MAX) break;
    text = next;
  }
  return text;
}
