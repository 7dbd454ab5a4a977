// Remediator review page. Plain ES module, no framework, no build step.
// Every piece of data reaches the DOM through text nodes or textContent (see h()); the page's
// Content-Security-Policy also enforces Trusted Types, so an HTML string can never be assigned.

const TOKEN_KEY = 'remediator.viewerToken';
const API = new URL('../api/v1/', location.href);
const PAGE_SIZE = 50;

/** Page size: 50, or `limit=N` (1–500) in the page's hash, e.g. `#/runs?limit=200`. */
function pageSize(query) {
  const n = Number(query.get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : PAGE_SIZE;
}

const STATUSES = ['queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'skipped', 'blocked', 'cancelled', 'rejected', 'expired'];
const TERMINAL = new Set(['succeeded', 'failed', 'skipped', 'blocked', 'cancelled', 'rejected', 'expired']);
const STATUS_GROUPS = [
  ['queued,awaiting_approval,running', 'in progress'],
  ['failed,blocked,expired', 'failed / blocked / expired'],
];
const STATUS_GLYPH = {
  succeeded: '✓', failed: '✕', blocked: '⊘', running: '▶', queued: '…', awaiting_approval: '?',
  skipped: '↷', cancelled: '■', rejected: '✕', expired: '◷',
};
const AUDIT_TYPES = ['run_created', 'run_status', 'kube_mutation', 'operator_action', 'guard_blocked', 'precheck', 'health_check', 'verification', 'escalation', 'notification_dead_letter', 'alert_resolved', 'alert_decision', 'auth_failed', 'audit_trimmed'];
const SINCE_CHOICES = [['', 'any time'], ['1h', 'last hour'], ['6h', 'last 6 hours'], ['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['30d', 'last 30 days']];

const main = document.getElementById('main');
const banners = document.getElementById('banners');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const serverInfo = document.getElementById('server-info');

// ---------------------------------------------------------------------------------------------
// DOM helpers: text only, never HTML.

/**
 * h('div', {class: 'x', on: {click: fn}}, 'text', node, [more]) — strings become text nodes;
 * attributes go through setAttribute; `href` must be an in-page hash link.
 */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'on') {
        for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
      } else if (key === 'href') {
        const href = String(value);
        if (!href.startsWith('#')) throw new Error(`refusing non-hash link ${href}`);
        el.setAttribute('href', href);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/**
 * A link out of the page (a runbook, the Prometheus graph): only http(s) URLs become links, in
 * a new tab without a referrer; anything else (javascript:, data:) stays plain text.
 */
function extLink(url, text = url) {
  let parsed;
  try {
    parsed = new URL(String(url));
  } catch {
    return mono(String(url));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return mono(String(url));
  const a = document.createElement('a');
  a.setAttribute('href', parsed.href);
  a.setAttribute('target', '_blank');
  a.setAttribute('rel', 'noopener noreferrer');
  a.setAttribute('class', 'ext-link');
  a.append(document.createTextNode(String(text)));
  return a;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

const mono = (text) => h('code', { class: 'mono' }, text);

function visuallyHidden(text) {
  return h('span', { class: 'vh' }, text);
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** `2025-01-31 03:12:05Z`, with the reader's local time and "n ago" on hover. */
function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(iso));
  const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
  return h('time', { datetime: d.toISOString(), title: `${d.toLocaleString()} (${ago(d)})` }, text);
}

function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 0) return 'in the future';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function duration(fromIso, toIso) {
  if (!fromIso || !toIso) return '—';
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

function statusBadge(status) {
  const known = STATUSES.includes(status) ? status : 'unknown';
  return h('span', { class: `badge st-${known}` }, h('span', { class: 'glyph', 'aria-hidden': 'true' }, STATUS_GLYPH[known] ?? '•'), visuallyHidden('status: '), String(status).replace('_', ' '));
}

function resultBadge(result) {
  const cls = { ok: 'st-succeeded', error: 'st-failed', dry_run: 'st-queued', gone: 'st-skipped', blocked: 'st-blocked' }[result] ?? 'st-unknown';
  return h('span', { class: `badge ${cls}` }, String(result ?? '—').replace('_', '-'));
}

function tag(text, cls = '') {
  return h('span', { class: `tag ${cls}` }, text);
}

/** Compact JSON; long values fold into a <details>. */
function json(value) {
  if (value === undefined) return h('span', { class: 'muted' }, '—');
  const compact = typeof value === 'string' ? value : JSON.stringify(value);
  if (compact.length <= 90) return mono(compact);
  return h('details', { class: 'json' }, h('summary', {}, mono(`${compact.slice(0, 70)}…`)), h('pre', {}, JSON.stringify(value, null, 2)));
}

function dl(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function notice(text, kind = 'info') {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// ---------------------------------------------------------------------------------------------
// API access.

class ApiError extends Error {
  constructor(status, body) {
    super(body && typeof body.message === 'string' ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

async function api(path, params, signal) {
  const url = new URL(path, API);
  if (params) for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const res = await fetch(url, {
    headers: { Authorization: `Bearer ${token() ?? ''}`, Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new ApiError(401, body);
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function describeError(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return `Your token may not read this (403): ${err.message}`;
    if (err.status >= 500) return `The server failed (${err.status}): ${err.message}. Retry in a moment.`;
    return `${err.message} (${err.status})`;
  }
  return `Cannot reach the server: ${err instanceof Error ? err.message : String(err)}`;
}

// ---------------------------------------------------------------------------------------------
// Routing: #/runs?filters, #/runs/ID, #/audit?filters.

let view = { controller: new AbortController(), timers: [] };

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  let parts;
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    parts = [];
  }
  return { parts, query };
}

function hashFor(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v) qs.set(k, v);
  const s = qs.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

function go(hash) {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

function newView() {
  view.controller.abort();
  for (const t of view.timers) clearTimeout(t);
  view = { controller: new AbortController(), timers: [] };
  return view;
}

function show(...children) {
  main.replaceChildren(...children.flat().filter(Boolean));
}

function focusHeading() {
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
}

async function route({ focus = true } = {}) {
  const v = newView();
  const { parts, query } = parseHash();
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === parts[0]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!token()) {
    signedOutChrome();
    show(signInView());
    if (focus) focusHeading();
    return;
  }
  signedInChrome();
  void refreshStatus(v);
  try {
    if (parts[0] === 'runs' && parts[1]) await runView(v, parts[1]);
    else if (parts[0] === 'runs' || parts.length === 0) await runsView(v, query);
    else if (parts[0] === 'audit') await auditView(v, query);
    else if (parts[0] === 'alerts') await alertsView(v, query);
    else show(h('h1', {}, 'Not found'), notice('There is no such page here.'), h('p', {}, h('a', { href: '#/runs' }, 'Go to the runs')));
  } catch (err) {
    if (v.controller.signal.aborted) return;
    if (err instanceof ApiError && err.status === 401) {
      show(signInView('That token is no longer accepted. Sign in again.'));
      signedOutChrome();
    } else {
      show(h('h1', {}, 'Something went wrong'), notice(describeError(err), 'error'), h('p', {}, h('button', { type: 'button', class: 'btn', on: { click: () => route() } }, 'Retry')));
    }
  }
  if (focus && !v.controller.signal.aborted) focusHeading();
}

// ---------------------------------------------------------------------------------------------
// Chrome: sign-in state and the automation banners.

function signedOutChrome() {
  nav.hidden = true;
  who.hidden = true;
  banners.replaceChildren();
}

function signedInChrome() {
  nav.hidden = false;
  who.hidden = false;
}

async function refreshStatus(v) {
  let status;
  try {
    status = await api('status', null, v.controller.signal);
  } catch (err) {
    if (v.controller.signal.aborted || (err instanceof ApiError && err.status === 401)) return;
    banners.replaceChildren(h('div', { class: 'banner banner-warn' }, h('strong', {}, 'Status unknown. '), describeError(err)));
    return;
  }
  serverInfo.textContent = `${status.version ? `v${status.version}` : ''}${status.role ? ` · ${status.role}` : ''}`;
  const items = [];
  const paused = status.paused && typeof status.paused === 'object' ? status.paused : {};
  for (const [scope, p] of Object.entries(paused)) {
    const what = scope === 'global' ? 'All automation is paused' : `Playbook ${scope} is paused`;
    items.push(h('div', { class: 'banner banner-paused' },
      h('strong', {}, h('span', { 'aria-hidden': 'true' }, '‖ '), what),
      ` by ${p?.by ?? 'unknown'}`,
      p?.at ? [' since ', time(p.at)] : '',
      p?.reason ? [': ', h('q', {}, p.reason)] : '',
      scope === 'global' ? '. Alerts are recorded, but no playbook acts until an admin resumes.' : '. Its alerts are recorded, but it does not act until an admin resumes it.'));
  }
  if (status.dryRun) {
    items.push(h('div', { class: 'banner banner-dry' }, h('strong', {}, h('span', { 'aria-hidden': 'true' }, '◌ '), 'Dry-run mode'), ': every run only plans its Kubernetes requests (dryRun=All); nothing changes on the cluster.'));
  }
  banners.replaceChildren(...items);
  v.timers.push(setTimeout(() => void refreshStatus(v), 30_000));
}

function signInView(message) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-help' });
  const error = h('p', { id: 'sign-in-error', class: 'form-error', role: 'alert' }, message ?? '');
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'sign-in card', on: { submit: async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    button.disabled = true;
    error.textContent = '';
    sessionStorage.setItem(TOKEN_KEY, value);
    try {
      await api('status');
      input.value = '';
      if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/runs';
      else await route();
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : describeError(err);
      button.disabled = false;
      input.focus();
    }
  } } },
  h('h1', {}, 'Sign in'),
  h('p', { id: 'token-help', class: 'muted' }, 'Paste a viewer token. It is kept in this browser tab only (session storage) and sent as a bearer token to this server\'s API.'),
  h('label', { for: 'token' }, 'Token'),
  input,
  error,
  button);
  return form;
}

// ---------------------------------------------------------------------------------------------
// Runs list.

let playbookNames;
async function loadPlaybookNames(signal) {
  if (playbookNames) return playbookNames;
  try {
    const res = await api('playbooks', null, signal);
    playbookNames = (res.items ?? []).map((p) => p.name).filter((n) => typeof n === 'string');
  } catch {
    playbookNames = [];
  }
  return playbookNames;
}

function select(id, label, choices, current) {
  const values = choices.map(([v]) => v);
  const options = choices.map(([v, text]) => h('option', { value: v, selected: v === current }, text));
  if (current && !values.includes(current)) options.push(h('option', { value: current, selected: true }, current));
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('select', { id, name: id.replace(/^f-/, '') }, options));
}

function textField(id, label, current, placeholder) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name: id.replace(/^f-/, ''), type: 'text', value: current ?? '', placeholder, spellcheck: 'false', autocomplete: 'off' }));
}

function filterForm(path, fields, keys) {
  const form = h('form', { class: 'filters', role: 'search', on: { submit: (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const params = {};
    for (const k of keys) {
      const val = String(data.get(k) ?? '').trim();
      if (val) params[k] = val;
    }
    go(hashFor(path, params));
  } } },
  fields,
  h('div', { class: 'field field-actions' },
    h('button', { type: 'submit', class: 'btn btn-primary', id: 'apply-filters' }, 'Apply'),
    h('a', { class: 'btn btn-quiet', href: `#${path}` }, 'Clear')));
  return form;
}

/** A rejected filter (400) keeps the form on screen with the server's explanation. */
async function firstLoad(load, footer) {
  try {
    await load(undefined);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 400) throw err;
    const details = Array.isArray(err.body?.details) ? err.body.details : [];
    footer.replaceChildren(notice(details.length ? `${err.message}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}` : err.message, 'error'));
  }
}

function triggerSummary(run) {
  const t = run.trigger ?? {};
  const parts = [];
  if (t.source === 'alert') {
    parts.push(h('span', {}, 'alert ', h('strong', {}, t.alert?.alertname ?? '?')));
    if (t.rule) parts.push(h('span', { class: 'muted small' }, `rule ${t.rule}`));
  } else {
    parts.push(h('span', {}, 'manual · ', h('strong', {}, t.operator ?? '?')));
  }
  const a = run.approval;
  if (a?.decision === 'approved') parts.push(h('span', { class: 'small ok-text' }, `approved by ${a.by ?? '?'}`));
  else if (a?.decision) parts.push(h('span', { class: 'small warn-text' }, `${a.decision}${a.by ? ` by ${a.by}` : ''}`));
  else if (a) parts.push(h('span', { class: 'small warn-text' }, 'needs approval'));
  return h('div', { class: 'stack' }, parts);
}

function runRow(run) {
  const href = `#/runs/${encodeURIComponent(run.id)}`;
  return h('tr', { 'data-run-id': run.id },
    h('td', {}, statusBadge(run.status)),
    h('td', {}, h('div', { class: 'stack' },
      h('a', { href, class: 'run-link' }, run.playbook),
      h('span', { class: 'muted small mono' }, String(run.id).slice(0, 8)))),
    h('td', {}, mono(run.target), run.dryRun ? [' ', tag('dry-run', 'tag-dry')] : ''),
    h('td', {}, triggerSummary(run)),
    h('td', { class: 'nowrap' }, time(run.createdAt)),
    h('td', { class: 'nowrap' }, duration(run.startedAt ?? run.createdAt, run.finishedAt)),
    h('td', { class: 'reason' }, run.guard ? [tag(`guard ${run.guard.guard}`, 'tag-warn'), ' '] : '', run.reason ?? ''));
}

async function runsView(v, query) {
  const filters = { status: query.get('status') ?? '', playbook: query.get('playbook') ?? '', rule: query.get('rule') ?? '', target: query.get('target') ?? '', since: query.get('since') ?? '' };
  const names = await loadPlaybookNames(v.controller.signal);
  const form = filterForm('/runs', [
    select('f-status', 'Status', [['', 'any status'], ...STATUS_GROUPS, ...STATUSES.map((s) => [s, s.replace('_', ' ')])], filters.status),
    select('f-playbook', 'Playbook', [['', 'any playbook'], ...names.map((n) => [n, n])], filters.playbook),
    textField('f-target', 'Target', filters.target, 'node/gpu-node-3'),
    textField('f-rule', 'Rule', filters.rule, 'rule name'),
    select('f-since', 'Created', SINCE_CHOICES, filters.since),
  ], Object.keys(filters));

  const tbody = h('tbody', {});
  const table = h('table', { class: 'grid', id: 'runs-table' },
    h('caption', { class: 'vh' }, 'Runs, newest first'),
    h('thead', {}, h('tr', {}, ['Status', 'Playbook', 'Target', 'Trigger', 'Created (UTC)', 'Took', 'Reason'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const footer = h('div', { class: 'list-footer' });
  const count = h('p', { class: 'muted small', role: 'status' });
  let shown = 0;

  const load = async (cursor) => {
    const page = await api('runs', { ...filters, limit: pageSize(query), cursor }, v.controller.signal);
    const items = Array.isArray(page.items) ? page.items : [];
    tbody.append(...items.map(runRow));
    shown += items.length;
    count.textContent = shown === 0 ? '' : `${shown} run${shown === 1 ? '' : 's'} shown${page.nextCursor ? '; more available' : ''}.`;
    footer.replaceChildren();
    if (shown === 0) footer.append(notice(Object.values(filters).some(Boolean) ? 'No runs match these filters.' : 'No runs yet.'));
    if (page.nextCursor) footer.append(loadMoreButton(() => load(page.nextCursor), footer, v.controller.signal));
  };
  await firstLoad(load, footer);
  if (v.controller.signal.aborted) return;
  const tableWrap = h('div', { class: 'table-wrap', hidden: shown === 0 }, table);
  show(h('div', { class: 'page-head' }, h('h1', {}, 'Runs'), h('p', { class: 'muted' }, 'Every run the automation or an operator started, newest first.')), form, tableWrap, count, footer);
}

// ---------------------------------------------------------------------------------------------
// One run.

function labelsList(labels) {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)));
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'labels', 'aria-label': 'Alert labels' }, entries.map(([k, val]) => h('li', {}, h('span', { class: 'lk' }, k), h('span', { class: 'le', 'aria-hidden': 'true' }, '='), visuallyHidden(' is '), h('span', { class: 'lv' }, String(val)))));
}

/** The alert's own words (annotations) and the graph that fired it. */
function alertWords(a) {
  const ann = a.annotations ?? {};
  return [
    ann.summary ? ['Summary', h('strong', { id: 'alert-summary' }, ann.summary)] : null,
    ann.description ? ['Description', h('span', { class: 'pre-line' }, ann.description)] : null,
    ann.runbook_url ? ['Runbook', extLink(ann.runbook_url)] : null,
    a.generatorURL ? ['Graph', extLink(a.generatorURL, 'open in Prometheus')] : null,
  ];
}

function escalationRows(run) {
  return [
    run.escalatedFrom ? ['Escalated from', h('a', { href: `#/runs/${encodeURIComponent(run.escalatedFrom)}` }, mono(run.escalatedFrom))] : null,
    Array.isArray(run.escalations) && run.escalations.length
      ? ['Escalated to', run.escalations.map((id, i) => [i ? ', ' : '', h('a', { href: `#/runs/${encodeURIComponent(id)}` }, mono(id))])]
      : null,
  ];
}

function triggerSection(run) {
  const t = run.trigger ?? {};
  if (t.source === 'alert' || t.source === 'escalation') {
    const a = t.alert ?? {};
    return section(t.source === 'alert' ? 'What caused it: an alert' : 'What caused it: an escalation',
      dl([
        ...escalationRows(run),
        ['Alert', h('strong', {}, a.alertname ?? '?')],
        ...alertWords(a),
        ['Rule', t.rule ? mono(t.rule) : '—'],
        ['Fingerprint', mono(a.fingerprint ?? '—')],
        ['Firing since', time(a.startsAt)],
        ['Labels', labelsList(a.labels)],
      ]));
  }
  return section('What caused it: an operator',
    dl([
      ['Operator', h('strong', { id: 'run-operator' }, t.operator ?? '?')],
      run.reasonGiven ? ['Reason given', h('q', {}, run.reasonGiven)] : null,
    ]),
    h('p', { class: 'muted small' }, 'A manual run obeys the global guards (pause, namespaces, opt-out, node budget, concurrency, target lock).'));
}

function guardSection(run) {
  const parts = [];
  if (run.guard) {
    parts.push(h('div', { class: 'callout callout-warn' }, h('strong', {}, `Blocked by guard ${run.guard.guard}`), ': ', run.guard.detail ?? ''));
  } else {
    parts.push(h('p', {}, TERMINAL.has(run.status) || run.status === 'running' ? 'Every guard allowed this run.' : 'No guard has blocked this run so far.'));
  }
  if (run.bypassGuards) parts.push(h('div', { class: 'callout callout-warn' }, h('strong', {}, 'Guards bypassed by an admin'), ': cooldowns, rate limits and the node budget did not apply.'));
  if (run.cancelRequested) parts.push(h('p', {}, 'Cancel requested by ', h('strong', {}, run.cancelRequested.by), ' at ', time(run.cancelRequested.at), ': ', h('q', {}, run.cancelRequested.reason)));
  return section('Guard decision', parts);
}

function approvalSection(run) {
  const a = run.approval;
  if (!a) return section('Approval', h('p', {}, 'Not required for this run.'));
  const decision = a.decision
    ? h('span', { class: `badge ${a.decision === 'approved' ? 'st-succeeded' : a.decision === 'rejected' ? 'st-failed' : 'st-expired'}` }, a.decision)
    : h('span', { class: 'badge st-awaiting_approval' }, 'waiting for a second operator');
  return section('Approval',
    dl([
      ['Required by', a.requiredBy === 'rule' ? 'the rule (approval: required)' : 'guards.manualApproval'],
      ['Decision', decision],
      a.by ? ['By', h('strong', { id: 'approver' }, a.by)] : null,
      a.reason ? ['Reason', h('q', {}, a.reason)] : null,
      a.at ? ['When', time(a.at)] : null,
    ]));
}

/** Precheck, health check and verification: did the problem still hold, did the fix land, did it stick. */
function loopSection(run) {
  const rows = [];
  const p = run.precheck;
  if (p) rows.push(['Precheck', [tag(p.result ?? 'not evaluated yet', p.result === 'pass' ? 'tag-changed' : p.result ? 'tag-warn' : ''), ' ', mono(p.query), p.detail ? ` → ${p.detail}` : '']]);
  const hc = run.health;
  if (hc) rows.push(['Health check', [tag(hc.result, hc.result === 'healthy' ? 'tag-changed' : 'tag-warn'), ' ', hc.detail]]);
  const v = run.verification;
  if (v) {
    rows.push(['Verification', [tag(v.result.replace('_', ' '), v.result === 'resolved' ? 'tag-changed' : v.result === 'pending' ? '' : 'tag-warn'), ' ', v.detail]]);
    if (v.query) rows.push(['Verify query', mono(v.query)]);
    rows.push([v.result === 'pending' ? 'Deadline' : 'Ended', time(v.result === 'pending' ? v.deadline : v.at)]);
    if (v.silenceId) rows.push(['Silence', mono(v.silenceId)]);
  }
  if (rows.length === 0) return null;
  return section('Closing the loop', dl(rows));
}

function stepsSection(run) {
  const steps = Array.isArray(run.steps) ? run.steps : [];
  if (steps.length === 0) {
    return section('Kubernetes mutations', h('p', {}, run.status === 'succeeded' && !run.changed ? 'None: the target was already in the wanted state.' : 'None.'));
  }
  const byAction = new Map();
  for (const s of steps) {
    if (s.action === 'event' || s.action === 'annotate') continue;
    const list = byAction.get(s.action) ?? [];
    list.push(s);
    byAction.set(s.action, list);
  }
  const summaryTitle = { evict: 'Evicted pods', delete_pod: 'Deleted pods', cordon: 'Cordoned', uncordon: 'Uncordoned', scale: 'Scaled', taint: 'Tainted' };
  const summary = h('div', { class: 'summary-groups' }, [...byAction.entries()].map(([action, list]) =>
    h('div', { class: 'summary-group', id: `summary-${action}` },
      h('h3', {}, `${summaryTitle[action] ?? action} (${list.length})`),
      h('ul', { class: 'objects' }, list.map((s) => h('li', {}, mono(s.object), ' ', resultBadge(s.result)))))));

  const rows = steps.map((s, i) => h('tr', { class: `step step-${s.action}${s.action === 'event' || s.action === 'annotate' ? ' step-mark' : ''}` },
    h('td', { class: 'muted num' }, String(i + 1)),
    h('td', { class: 'nowrap' }, time(s.at)),
    h('td', {}, h('strong', {}, s.action)),
    h('td', {}, mono(s.object)),
    h('td', {}, h('div', { class: 'stack' },
      h('span', {}, h('span', { class: 'method' }, s.request?.method ?? '?'), ' ', mono(s.request?.path ?? '')),
      s.request?.dryRun ? tag('dry-run', 'tag-dry') : null)),
    h('td', {}, resultBadge(s.result), s.detail ? h('div', { class: 'small muted' }, s.detail) : null),
    h('td', { class: 'change' }, s.before === undefined && s.after === undefined ? h('span', { class: 'muted' }, '—') : [json(s.before), h('span', { class: 'arrow' }, h('span', { 'aria-hidden': 'true' }, ' → '), visuallyHidden(' became ')), json(s.after)])));

  return section(`Kubernetes mutations (${steps.length})`,
    byAction.size > 0 ? summary : null,
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid steps', id: 'steps-table' },
      h('caption', { class: 'vh' }, 'Each Kubernetes request in order'),
      h('thead', {}, h('tr', {}, ['#', 'Time (UTC)', 'Action', 'Object', 'Request', 'Result', 'Before → after'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows))));
}

async function runView(v, id) {
  const signal = v.controller.signal;
  const [run, audit] = await Promise.all([
    api(`runs/${encodeURIComponent(id)}`, null, signal),
    api('audit', { runId: id, limit: 200 }, signal).then((r) => ({ ok: true, page: r }), (err) => ({ ok: false, err })),
  ]);
  if (signal.aborted) return;
  // The operator's own reason is in the audit trail (operator_action trigger); show it next to them.
  if (audit.ok) {
    const trig = (audit.page.items ?? []).find((e) => e.type === 'operator_action' && e.action === 'trigger');
    if (trig) run.reasonGiven = trig.reason;
  }
  const head = h('div', { class: 'page-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/runs' }, '← Runs')),
    h('h1', {}, h('span', {}, run.playbook), h('span', { class: 'muted' }, ' on '), h('span', { class: 'mono' }, run.target), ' ', statusBadge(run.status)),
    h('p', { class: 'muted small' }, 'Run ', mono(run.id), run.dryRun ? [' ', tag('dry-run', 'tag-dry')] : '', ' ', run.changed ? tag('changed the cluster', 'tag-changed') : tag('changed nothing'), ' ', run.bypassGuards ? tag('guards bypassed', 'tag-warn') : ''));

  const outcome = section('Outcome',
    run.reason ? h('p', { class: 'lead', id: 'run-reason' }, run.reason) : h('p', { class: 'muted' }, TERMINAL.has(run.status) ? 'No reason recorded.' : 'Not finished yet; this page refreshes by itself.'),
    dl([
      ['Created', time(run.createdAt)],
      run.queuedAt && run.queuedAt !== run.createdAt ? ['Queued', time(run.queuedAt)] : null,
      ['Started', time(run.startedAt)],
      ['Finished', time(run.finishedAt)],
      ['Took', duration(run.startedAt ?? run.createdAt, run.finishedAt)],
      ['Attempts', String(run.attempts ?? '—')],
      ['Params', json(run.params)],
    ]));

  let auditPart;
  if (audit.ok) {
    const items = audit.page.items ?? [];
    auditPart = section(`Audit entries (${items.length}${audit.page.nextCursor ? '+' : ''})`,
      items.length ? h('p', { class: 'muted small' }, 'Oldest first.') : null,
      items.length ? auditList([...items].reverse(), { showRun: false }) : h('p', { class: 'muted' }, 'No audit entries for this run yet.'),
      h('p', {}, h('a', { href: hashFor('/audit', { runId: run.id }) }, 'Open these in the audit log →')));
  } else if (audit.err instanceof ApiError && audit.err.status === 404) {
    auditPart = section('Audit entries', notice('This server does not offer the audit API (404), so the audit entries cannot be shown here. The run record above is complete.', 'warn'));
  } else {
    auditPart = section('Audit entries', notice(`The audit entries could not be loaded: ${describeError(audit.err)}`, 'warn'));
  }

  show(head, h('div', { class: 'cols' }, triggerSection(run), h('div', { class: 'stack-lg' }, guardSection(run), approvalSection(run))), outcome, loopSection(run), stepsSection(run), auditPart);

  if (!TERMINAL.has(run.status) || run.verification?.result === 'pending') {
    v.timers.push(setTimeout(() => {
      if (!v.controller.signal.aborted) void route({ focus: false });
    }, 3000));
  }
}

// ---------------------------------------------------------------------------------------------
// Audit log.

function entrySummary(e) {
  switch (e.type) {
    case 'run_created':
      return [`${e.source === 'alert' ? `alert ${e.alertname ?? ''}` : 'manual'} run created as `, h('strong', {}, e.status ?? '?'), e.dryRun ? ' (dry-run)' : '', ' ', json(e.params)];
    case 'guard_blocked':
      return [h('strong', {}, `guard ${e.guard}`), ` blocked: ${e.detail ?? ''}`];
    case 'run_status':
      return [e.from ? `${e.from.replace('_', ' ')} → ` : '→ ', h('strong', {}, String(e.to ?? '?').replace('_', ' ')), e.reason ? `: ${e.reason}` : '', e.dryRun ? ' (dry-run)' : ''];
    case 'kube_mutation':
      return [h('strong', {}, e.action), ' ', mono(e.object), ' ', h('span', { class: 'method' }, e.method ?? ''), ' ', mono(e.path ?? ''), ' ', resultBadge(e.result), e.dryRun ? [' ', tag('dry-run', 'tag-dry')] : '', e.detail ? ` ${e.detail}` : '',
        e.before !== undefined || e.after !== undefined ? [' ', json(e.before), ' → ', json(e.after)] : ''];
    case 'operator_action':
      return [h('strong', {}, e.action), e.scope ? ` (${e.scope})` : '', e.reason ? [': ', h('q', {}, e.reason)] : ''];
    case 'auth_failed':
      return [`${e.count ?? 1} failed authentication${e.count === 1 ? '' : 's'} from `, mono(e.client ?? '?'), `: ${e.reason ?? ''}`];
    case 'alert_resolved':
      return ['alert resolved ', mono(e.fingerprint ?? ''), Array.isArray(e.cancelled) && e.cancelled.length ? `; cancelled ${e.cancelled.length} pending run(s)` : ''];
    case 'alert_decision':
      return [h('strong', {}, e.decision === 'unmatched' ? 'alert unmatched' : 'alert invalid'), ' ', mono(e.alertname || e.fingerprint || '?'), e.rule && e.rule !== 'none' ? ` (rule ${e.rule})` : '', e.reason ? `: ${e.reason}` : ''];
    case 'unreadable':
      return ['an entry that is not valid JSON (still covered by the seal chain): ', json(e.raw)];
    case 'precheck':
      return [h('strong', {}, `precheck ${e.result ?? '?'}`), ' ', mono(e.query ?? ''), e.detail ? ` → ${e.detail}` : ''];
    case 'health_check':
      return [h('strong', {}, `health ${e.result ?? '?'}`), e.detail ? `: ${e.detail}` : ''];
    case 'verification':
      return [h('strong', {}, `verification ${String(e.result ?? '?').replace('_', ' ')}`), e.query ? [' ', mono(e.query)] : '', e.detail ? `: ${e.detail}` : '', e.silenceId ? [' ', tag(`silence ${e.silenceId}`)] : ''];
    case 'escalation':
      return [h('strong', {}, `escalation (${e.reason ?? '?'})`), e.detail ? `: ${e.detail}` : '', e.followUpRunId ? [' → follow-up ', h('a', { href: `#/runs/${encodeURIComponent(e.followUpRunId)}` }, mono(e.followUpRunId))] : '', e.held ? [' ', tag('target held until ack', 'tag-warn')] : ''];
    case 'notification_dead_letter':
      return [h('strong', {}, `notification ${e.event ?? '?'} to ${e.channel ?? '?'} gave up`), ` after ${e.attempts ?? '?'} attempts: ${e.error ?? ''}`];
    case 'audit_trimmed':
      return [`retention (${e.reason ?? '?'}) removed ${e.count ?? '?'} old entries; new anchor `, mono(e.anchorId ?? '')];
    default: {
      const rest = { ...e };
      for (const k of ['id', 'type', 'at', 'actor', 'runId', 'target', 'playbook', 'rule']) delete rest[k];
      return [json(rest)];
    }
  }
}

function auditList(items, { showRun }) {
  return h('ol', { class: 'timeline' }, items.map((raw) => {
    const e = raw && typeof raw.entry === 'object' ? { ...raw.entry, id: raw.id } : raw;
    return h('li', { class: `entry entry-${e.type}`, 'data-entry-id': e.id ?? '' },
      h('div', { class: 'entry-time' }, time(e.at)),
      h('div', { class: 'entry-body' },
        h('div', { class: 'entry-head' },
          h('span', { class: `etype etype-${e.type}` }, String(e.type ?? 'entry').replace('_', ' ')),
          ' ', h('span', { class: 'actor' }, e.actor ?? '?'),
          e.target ? [' ', mono(e.target)] : '',
          e.playbook ? [' ', h('span', { class: 'muted small' }, e.playbook)] : '',
          e.rule ? [' ', h('span', { class: 'muted small' }, `rule ${e.rule}`)] : '',
          showRun && e.runId ? [' ', h('a', { href: `#/runs/${encodeURIComponent(e.runId)}`, class: 'small' }, `run ${String(e.runId).slice(0, 8)}`)] : '',
          e.sealed === false ? [' ', h('span', { class: 'tag', title: 'The sealer chains new entries within seconds.' }, 'not sealed yet')] : ''),
        h('div', { class: 'entry-text' }, entrySummary(e))));
  }));
}

function verifyPanel(v) {
  const out = h('div', { id: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'btn', id: 'verify-chain', on: { click: async () => {
    button.disabled = true;
    out.replaceChildren(h('span', { class: 'muted' }, 'Recomputing the seal chain…'));
    try {
      const r = await api('audit/verify', null, v.controller.signal);
      const unsealed = Number(r.unsealed ?? 0);
      if (r.ok) {
        out.replaceChildren(h('div', { class: 'callout callout-ok' }, h('strong', {}, '✓ Chain intact'), `: ${r.checked ?? '?'} entries checked`, unsealed ? `, ${unsealed} recent entr${unsealed === 1 ? 'y' : 'ies'} not sealed yet (sealed within seconds).` : '.'));
      } else {
        const bad = r.firstBad;
        const where = bad && typeof bad === 'object' ? [mono(String(bad.id ?? '?')), bad.reason ? `: ${bad.reason}` : ''] : [mono(String(bad ?? '?'))];
        out.replaceChildren(h('div', { class: 'callout callout-bad' }, h('strong', {}, '✕ Chain broken'), ` after ${r.checked ?? '?'} entries; first bad entry `, where, '. The log was edited, reordered or re-sealed outside Remediator.'));
      }
    } catch (err) {
      if (v.controller.signal.aborted) return;
      out.replaceChildren(notice(err instanceof ApiError && err.status === 404 ? 'This server does not offer verification (404).' : describeError(err), 'error'));
    } finally {
      button.disabled = false;
    }
  } } }, 'Verify chain');
  return h('div', { class: 'verify card' }, h('div', {}, h('h2', {}, 'Integrity'), h('p', { class: 'muted small' }, 'Recompute the HMAC seal chain over the whole log.')), button, out);
}

async function auditView(v, query) {
  const keys = ['type', 'actor', 'target', 'playbook', 'rule', 'runId', 'since', 'until'];
  const filters = Object.fromEntries(keys.map((k) => [k, query.get(k) ?? '']));
  const names = await loadPlaybookNames(v.controller.signal);
  const form = filterForm('/audit', [
    select('f-type', 'Type', [['', 'any type'], ...AUDIT_TYPES.map((t) => [t, t.replace('_', ' ')])], filters.type),
    textField('f-actor', 'Actor', filters.actor, 'alice, alertmanager'),
    textField('f-target', 'Target', filters.target, 'node/gpu-node-3'),
    select('f-playbook', 'Playbook', [['', 'any playbook'], ...names.map((n) => [n, n])], filters.playbook),
    textField('f-rule', 'Rule', filters.rule, 'rule name'),
    textField('f-runId', 'Run id', filters.runId, 'run id'),
    textField('f-since', 'Since', filters.since, '24h or RFC 3339'),
    textField('f-until', 'Until', filters.until, 'RFC 3339 or 1h'),
  ], keys);

  const listWrap = h('div', { id: 'audit-list' });
  const paged = await pagedList(v, query, {
    resource: 'audit',
    filters,
    render: (items) => listWrap.append(auditList(items, { showRun: true })),
    counted: (n) => `${n} entr${n === 1 ? 'y' : 'ies'}`,
    none: Object.values(filters).some(Boolean) ? 'No audit entries match these filters.' : 'The audit log is empty.',
  });
  if (v.controller.signal.aborted) return;
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'Audit log'), h('p', { class: 'muted' }, 'Every decision, mutation and operator action, newest first. Times are UTC; hover for local time.'));
  if (paged.unavailable) {
    show(head, notice('This server does not offer the audit API yet (GET /api/v1/audit answered 404).', 'warn'));
    return;
  }
  show(head, verifyPanel(v), form, listWrap, paged.footer);
}

// ---------------------------------------------------------------------------------------------
// Alert inbox: every alert seen, with its decision and why.

const ALERT_DECISIONS = ['enqueued', 'awaiting_approval', 'duplicate', 'unmatched', 'invalid_params', 'blocked', 'cancelled', 'ignored_resolved'];

async function alertsView(v, query) {
  const keys = ['decision', 'alertname', 'rule', 'since'];
  const filters = Object.fromEntries(keys.map((k) => [k, query.get(k) ?? '']));
  const form = filterForm('/alerts', [
    select('f-decision', 'Decision', [['', 'any decision'], ...ALERT_DECISIONS.map((d) => [d, d.replace('_', ' ')])], filters.decision),
    textField('f-alertname', 'Alert', filters.alertname, 'GPUNodeOverheating'),
    textField('f-rule', 'Rule', filters.rule, 'rule name'),
    textField('f-since', 'Since', filters.since, '24h or RFC 3339'),
  ], keys);
  const body = h('tbody', {});
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id: 'alerts-table' },
    h('thead', {}, h('tr', {}, ['Last seen', 'Alert', 'Decision', 'Rule', 'Seen', 'Run or guard', 'Why'].map((c) => h('th', { scope: 'col' }, c)))),
    body));
  const paged = await pagedList(v, query, {
    resource: 'alerts',
    filters,
    render: (items) => {
      for (const a of items) body.append(alertRow(a));
    },
    counted: (n) => `${n} alert${n === 1 ? '' : 's'}`,
    none: Object.values(filters).some(Boolean) ? 'No alerts match these filters.' : 'No alert has been seen yet.',
  });
  if (v.controller.signal.aborted) return;
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'Alerts'), h('p', { class: 'muted' }, 'Every alert Alertmanager sent, once per episode: what was decided and why. Times are UTC; hover for local time.'));
  if (paged.unavailable) {
    show(head, notice('This server does not offer the alert inbox yet (GET /api/v1/alerts answered 404).', 'warn'));
    return;
  }
  show(head, form, table, paged.footer);
}

function alertRow(a) {
  const ann = a.annotations ?? {};
  const link = a.runId ? h('a', { href: `#/runs/${encodeURIComponent(a.runId)}` }, mono(String(a.runId).slice(0, 8))) : a.guard ? tag(`guard ${a.guard}`, 'tag-warn') : '—';
  return h('tr', { 'data-fingerprint': a.fingerprint ?? '' },
    h('td', {}, time(a.lastSeenAt)),
    h('td', {}, h('strong', {}, a.alertname || '?'), ann.summary ? [h('br', {}), h('span', { class: 'small' }, ann.summary)] : ''),
    h('td', {}, tag(String(a.decision ?? '?').replace('_', ' '), a.decision === 'enqueued' ? 'tag-changed' : a.decision === 'unmatched' || a.decision === 'invalid_params' || a.decision === 'blocked' ? 'tag-warn' : '')),
    h('td', {}, a.rule ? mono(a.rule) : '—'),
    h('td', {}, String(a.seen ?? 1)),
    h('td', {}, link),
    h('td', { class: 'reason' }, a.reason ?? ''));
}

// ---------------------------------------------------------------------------------------------

document.getElementById('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  serverInfo.textContent = '';
  go('#/runs');
});
window.addEventListener('hashchange', () => void route());
void route({ focus: false });

/**
 * A cursor-paged list under the API's `resource`: loads the first page, renders each page's items,
 * keeps a footer (count, "Load more", the empty notice). `unavailable` when the server answers
 * 404 (an older server without that API).
 */
async function pagedList(v, query, { resource, filters, render, counted, none }) {
  const footer = h('div', { class: 'list-footer' });
  let shown = 0;
  let unavailable = false;
  const load = async (cursor) => {
    let page;
    try {
      page = await api(resource, { ...filters, limit: pageSize(query), cursor }, v.controller.signal);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && !cursor) {
        unavailable = true;
        return;
      }
      throw err;
    }
    const items = Array.isArray(page.items) ? page.items : [];
    if (items.length) render(items);
    shown += items.length;
    footer.replaceChildren();
    if (shown === 0 && !page.nextCursor) footer.append(notice(none));
    else footer.append(h('p', { class: 'muted small', role: 'status' }, `${counted(shown)} shown, newest first${page.nextCursor ? '; more available' : ''}.`));
    if (page.nextCursor) footer.append(loadMoreButton(() => load(page.nextCursor), footer, v.controller.signal));
  };
  await firstLoad(load, footer);
  return { footer, unavailable };
}

/** "Load more" for a paged list: disables itself while the next page loads; shows an error in place. */
function loadMoreButton(loadNext, footer, signal) {
  const more = h('button', { type: 'button', class: 'btn', id: 'load-more', on: { click: async () => {
    more.disabled = true;
    more.textContent = 'Loading…';
    try {
      await loadNext();
    } catch (err) {
      if (!signal.aborted) footer.replaceChildren(notice(describeError(err), 'error'));
    }
  } } }, 'Load more');
  return more;
}
