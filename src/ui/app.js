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
const callerInfo = document.getElementById('caller');
const flashArea = document.getElementById('flash');

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
  return send(url, { signal });
}

/** A change: POST with a JSON body. The token travels in the Authorization header, never in a URL. */
async function apiPost(path, body) {
  return send(new URL(path, API), { method: 'POST', body: JSON.stringify(body), contentType: 'application/json' });
}

async function send(url, { method = 'GET', body: payload, contentType, signal } = {}) {
  const headers = { Authorization: `Bearer ${token() ?? ''}`, Accept: 'application/json' };
  if (contentType) headers['Content-Type'] = contentType;
  const res = await fetch(url, { method, headers, body: payload, cache: 'no-store', credentials: 'omit', signal });
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

/** Why the API refused a change, in words: the role needed (403), the guard or state (409), the bad fields (400). */
function describeRefusal(err) {
  if (!(err instanceof ApiError)) return describeError(err);
  const b = err.body ?? {};
  if (err.status === 403) return `Refused (403): ${err.message}.`;
  if (err.status === 409) return `Refused (409): ${err.message}${b.guard && !err.message.includes(String(b.guard)) ? ` (guard ${b.guard})` : ''}.`;
  if (err.status === 400) {
    const details = Array.isArray(b.details) ? b.details.map((d) => `${d.path}: ${d.message}`).join('; ') : '';
    return `Not accepted (400): ${err.message}${details ? `: ${details}` : ''}.`;
  }
  if (err.status === 404) return `Not found (404): ${err.message}.`;
  return describeError(err);
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
  try {
    if (!caller) applyCaller(await api('status', null, v.controller.signal));
    void refreshStatus(v);
    if (parts[0] === 'runs' && parts[1]) await runView(v, parts[1]);
    else if (parts[0] === 'runs' || parts.length === 0) await runsView(v, query);
    else if (parts[0] === 'audit') await auditView(v, query);
    else if (parts[0] === 'alerts') await alertsView(v, query);
    else if (parts[0] === 'new-run') await newRunView(v, query);
    else if (parts[0] === 'automation') await automationView(v);
    else show(h('h1', {}, 'Not found'), notice('There is no such page here.'), h('p', {}, h('a', { href: '#/runs' }, 'Go to the runs')));
  } catch (err) {
    if (v.controller.signal.aborted) return;
    if (err instanceof ApiError && err.status === 401) {
      caller = null;
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
  caller = null;
  banners.replaceChildren();
  flashArea.replaceChildren();
}

// Who is signed in: the token's name and role (GET /status `caller`). The page offers only what
// that role may do; the API checks again, and its refusal is shown in words.
const RANK = { viewer: 1, operator: 2, admin: 3 };
let caller = null;

function can(role) {
  return caller !== null && (RANK[caller.role] ?? 0) >= RANK[role];
}

function applyCaller(status) {
  caller = status?.caller && typeof status.caller.role === 'string' ? status.caller : { name: '?', role: 'viewer' };
  callerInfo.textContent = `${caller.name} (${caller.role})`;
}

/** A short confirmation above the page ("Approved."), announced to screen readers; it stays until the next one. */
function flash(text, kind = 'ok') {
  flashArea.replaceChildren(h('p', { class: `notice notice-${kind}`, id: 'flash-message' }, text));
}

function signedInChrome() {
  nav.hidden = false;
  who.hidden = false;
}

/** The banners from GET /status, every 30 s while the view is open (`once`: now, after a pause or resume). */
async function refreshStatus(v, { once = false } = {}) {
  let status;
  try {
    status = await api('status', null, v.controller.signal);
  } catch (err) {
    if (v.controller.signal.aborted || (err instanceof ApiError && err.status === 401)) return;
    banners.replaceChildren(h('div', { class: 'banner banner-warn' }, h('strong', {}, 'Status unknown. '), describeError(err)));
    return;
  }
  applyCaller(status);
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
      scope === 'global' ? '. Alerts are recorded, but no playbook acts until an admin resumes.' : '. Its alerts are recorded, but it does not act until an admin resumes it.',
      can('admin') ? [' ', pauseButton('resume', scope === 'global' ? undefined : scope)] : ''));
  }
  if (status.dryRun) {
    items.push(h('div', { class: 'banner banner-dry' }, h('strong', {}, h('span', { 'aria-hidden': 'true' }, '◌ '), 'Dry-run mode'), ': every run only plans its Kubernetes requests (dryRun=All); nothing changes on the cluster.'));
  }
  banners.replaceChildren(...items);
  if (!once) v.timers.push(setTimeout(() => void refreshStatus(v), 30_000));
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
      applyCaller(await api('status'));
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
  h('p', { id: 'token-help', class: 'muted' }, 'Paste your token. A viewer token reads; an operator token also approves, rejects, cancels and starts runs; an admin token also pauses and resumes. It is kept in this browser tab only (session storage) and sent as a bearer token to this server\'s API.'),
  h('label', { for: 'token' }, 'Token'),
  input,
  error,
  button);
  return form;
}

// ---------------------------------------------------------------------------------------------
// Acting: every change asks for a reason in a dialog and shows the API's answer in words.

/**
 * Opens a modal dialog: `fields` (extra inputs), a required reason, Confirm and Cancel. `submit`
 * gets `{reason, ...checked}`; its refusal stays in the dialog, its success closes it and calls
 * `done(result)`.
 */
function actionDialog({ id, title, intro, confirm, fields = [], submit, done }) {
  const reason = h('textarea', { id: 'action-reason', name: 'reason', rows: 3, required: true, spellcheck: 'true', 'aria-describedby': 'action-reason-help' });
  const error = h('p', { id: 'action-error', class: 'form-error', role: 'alert' });
  const confirmButton = h('button', { type: 'submit', class: 'btn btn-primary', id: 'action-confirm' }, confirm);
  const dialog = h('dialog', { class: 'action-dialog', id, 'aria-labelledby': 'action-title' });
  const close = () => {
    if (dialog.open) dialog.close();
    dialog.remove();
  };
  // novalidate: the dialog explains a missing reason itself, in words a screen reader announces.
  const form = h('form', { method: 'dialog', novalidate: true, on: { submit: async (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      error.textContent = 'A reason is required: it is written to the audit log.';
      reason.focus();
      return;
    }
    const values = { reason: text };
    for (const f of fields) values[f.name] = f.input.type === 'checkbox' ? f.input.checked : f.input.value;
    confirmButton.disabled = true;
    error.textContent = '';
    try {
      const result = await submit(values);
      close();
      done(result);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        close();
        void route();
        return;
      }
      error.textContent = describeRefusal(err);
      confirmButton.disabled = false;
    }
  } } },
  h('h2', { id: 'action-title' }, title),
  intro ? h('p', {}, intro) : null,
  fields.map((f) => h('div', { class: 'field field-check' }, f.input, h('label', { for: f.input.id }, f.label))),
  h('label', { for: 'action-reason' }, 'Reason'),
  reason,
  h('p', { id: 'action-reason-help', class: 'muted small' }, 'Required; recorded in the audit log with your name.'),
  error,
  h('div', { class: 'dialog-actions' },
    confirmButton,
    h('button', { type: 'button', class: 'btn', id: 'action-cancel', on: { click: close } }, 'Cancel')));
  dialog.addEventListener('cancel', () => dialog.remove());
  dialog.append(form);
  document.body.append(dialog);
  dialog.showModal();
  reason.focus();
}

function checkbox(id, name, checked) {
  return h('input', { type: 'checkbox', id, name, checked });
}

/** Approve, reject, cancel or acknowledge a run (operator). */
function runActionButton(run, action) {
  const words = {
    approve: { label: 'Approve…', title: `Approve ${run.playbook} on ${run.target}`, intro: 'The run is queued at once and acts within its guards.', confirm: 'Approve', done: 'Approved' },
    reject: { label: 'Reject…', title: `Reject ${run.playbook} on ${run.target}`, intro: 'The run ends rejected and never acts.', confirm: 'Reject', done: 'Rejected' },
    cancel: {
      label: run.status === 'running' ? 'Stop…' : 'Cancel…',
      title: `${run.status === 'running' ? 'Stop' : 'Cancel'} ${run.playbook} on ${run.target}`,
      intro: run.status === 'running' ? 'The run stops before its next Kubernetes request; what it already did stays done.' : 'The run ends cancelled and never acts.',
      confirm: run.status === 'running' ? 'Stop the run' : 'Cancel the run',
      done: run.status === 'running' ? 'Stop requested' : 'Cancelled',
    },
    ack: { label: 'Acknowledge escalation…', title: `Acknowledge the escalation on ${run.target}`, intro: 'Releases the target: its rule may act on it again.', confirm: 'Acknowledge', done: 'Acknowledged; the target is released' },
  }[action];
  return h('button', { type: 'button', class: `btn${action === 'approve' ? ' btn-primary' : ''}`, id: `${action}-run`, on: { click: () => actionDialog({
    id: `${action}-dialog`,
    title: words.title,
    intro: words.intro,
    confirm: words.confirm,
    submit: ({ reason }) => apiPost(`runs/${encodeURIComponent(run.id)}/${action}`, { reason }),
    done: () => {
      flash(`${words.done}: ${run.playbook} on ${run.target}.`);
      void refreshCurrent();
    },
  }) } }, words.label);
}

/** Re-run: a new manual run with the same playbook and params. */
function rerunButton(run) {
  return h('button', { type: 'button', class: 'btn', id: 'rerun', on: { click: () => {
    const dry = checkbox('rerun-dry-run', 'dryRun', Boolean(run.dryRun));
    actionDialog({
      id: 'rerun-dialog',
      title: `Re-run ${run.playbook} on ${run.target}`,
      intro: 'Starts a new manual run with the same params, under the same guards as any manual run.',
      confirm: 'Start the run',
      fields: [{ name: 'dryRun', input: dry, label: 'Dry run: only plan the requests (dryRun=All)' }],
      submit: ({ reason, dryRun }) => apiPost('runs', { playbook: run.playbook, params: run.params ?? {}, reason, dryRun }),
      done: (res) => {
        flash(`Started ${run.playbook} on ${run.target}: ${String(res.status).replace('_', ' ')}.`);
        goAfterAction(`#/runs/${encodeURIComponent(res.id)}`);
      },
    });
  } } }, 'Re-run…');
}

function actionsSection(run) {
  if (!can('operator')) return null;
  const buttons = [];
  // Whoever asked for a manual run cannot also approve it (the API says 403): not offered.
  const own = run.trigger?.source === 'manual' && run.trigger.operator === caller?.name;
  if (run.status === 'awaiting_approval') buttons.push(own ? null : runActionButton(run, 'approve'), runActionButton(run, 'reject'));
  if (['queued', 'awaiting_approval', 'running'].includes(run.status)) buttons.push(runActionButton(run, 'cancel'));
  // A rule holds the target after an escalation: either end of it, or a run the hold blocked, can release it.
  if (run.escalatedFrom || run.escalations?.length || run.guard?.guard === 'escalated') buttons.push(runActionButton(run, 'ack'));
  buttons.push(rerunButton(run));
  const note = own && run.status === 'awaiting_approval' ? h('p', { class: 'muted small', id: 'own-run-note' }, 'You asked for this run: another operator approves it.') : null;
  return h('section', { class: 'card actions', 'aria-label': 'Actions' }, h('div', { class: 'action-row' }, buttons), note);
}

/** Pause or resume automation, globally or for one playbook (admin). */
function pauseButton(action, playbook) {
  const scope = playbook ? `playbook ${playbook}` : 'all automation';
  return h('button', { type: 'button', class: `btn${action === 'resume' ? ' btn-primary' : ''}`, 'data-scope': playbook ?? 'global', id: `${action}-${playbook ?? 'global'}`, on: { click: () => actionDialog({
    id: `${action}-dialog`,
    title: `${action === 'pause' ? 'Pause' : 'Resume'} ${scope}`,
    intro: action === 'pause' ? 'Alerts are still recorded, but nothing acts until an admin resumes; queued runs stop before they mutate.' : 'Automation acts again; the next notification of a blocked episode is evaluated again.',
    confirm: action === 'pause' ? 'Pause' : 'Resume',
    submit: ({ reason }) => apiPost(action, playbook ? { reason, playbook } : { reason }),
    done: () => {
      flash(`${action === 'pause' ? 'Paused' : 'Resumed'} ${scope}.`);
      void refreshStatus(view, { once: true });
      void refreshCurrent();
    },
  }) } }, `${action === 'pause' ? 'Pause' : 'Resume'}…`);
}

// ---------------------------------------------------------------------------------------------
// Live: the open view polls its data and redraws only what changed.

/**
 * Calls `tick` every `ms` (each call after the previous one ended) while the view is open; shows
 * when the data was last fetched, or why it could not be.
 */
function live(v, ms, tick, indicator) {
  const run = async () => {
    if (v.controller.signal.aborted) return;
    try {
      await tick();
      indicator.textContent = `Live: updated ${new Date().toLocaleTimeString()}`;
      indicator.classList.remove('warn-text');
    } catch (err) {
      if (v.controller.signal.aborted) return;
      if (err instanceof ApiError && err.status === 401) {
        void route();
        return;
      }
      indicator.textContent = `Live updates failing (${describeError(err)}); retrying.`;
      indicator.classList.add('warn-text');
    }
    if (!v.controller.signal.aborted) v.timers.push(setTimeout(() => void run(), typeof ms === 'function' ? ms() : ms));
  };
  v.timers.push(setTimeout(() => void run(), typeof ms === 'function' ? ms() : ms));
}

function liveIndicator() {
  return h('p', { class: 'muted small live', id: 'live', 'aria-live': 'off' }, 'Live');
}

/** Redraws the open view after an action, without moving focus. */
async function refreshCurrent() {
  if (typeof view.refresh === 'function') {
    try {
      await view.refresh();
      return;
    } catch {
      // fall back to a full redraw
    }
  }
  await route({ focus: false });
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
  if (t.source === 'alert' || t.source === 'escalation') {
    parts.push(h('span', {}, t.source === 'alert' ? 'alert ' : 'escalation of ', h('strong', {}, t.alert?.alertname ?? '?')));
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
  const tableWrap = h('div', { class: 'table-wrap', hidden: true }, table);
  const paged = await pagedList(v, query, {
    resource: 'runs',
    filters,
    render: (items) => {
      tbody.append(...items.map(runRow));
      tableWrap.hidden = false;
    },
    clear: () => {
      tbody.replaceChildren();
      tableWrap.hidden = true;
    },
    counted: (n) => `${n} run${n === 1 ? '' : 's'}`,
    none: Object.values(filters).some(Boolean) ? 'No runs match these filters.' : 'No runs yet.',
  });
  if (v.controller.signal.aborted) return;
  const indicator = liveIndicator();
  v.refresh = paged.reload;
  live(v, 3000, paged.reload, indicator);
  const start = can('operator') ? h('a', { class: 'btn btn-primary', id: 'start-run', href: '#/new-run' }, 'Start a run…') : null;
  show(h('div', { class: 'page-head' }, h('div', { class: 'head-row' }, h('h1', {}, 'Runs'), start), h('p', { class: 'muted' }, 'Every run the automation or an operator started, newest first.'), indicator), form, tableWrap, paged.footer);
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
        run.seen ? ['Sent', [`${run.seen} notification${run.seen === 1 ? '' : 's'}, the last at `, time(run.lastSeenAt)]] : null,
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
      ['Required by', a.requiredBy === 'rule' ? 'the rule (approval: required)' : a.requiredBy === 'escalation' ? 'the escalation (escalate.playbook.approval)' : 'guards.manualApproval'],
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

async function fetchRun(id, signal) {
  const [run, audit] = await Promise.all([
    api(`runs/${encodeURIComponent(id)}`, null, signal),
    api('audit', { runId: id, limit: 200 }, signal).then((r) => ({ ok: true, page: r }), (err) => ({ ok: false, err })),
  ]);
  return { run, audit };
}

/** A run's page, live: every 1.5 s while it is in progress or being verified, else every 5 s; redrawn only when it changed. */
async function runView(v, id) {
  const signal = v.controller.signal;
  let data = await fetchRun(id, signal);
  if (signal.aborted) return;
  const indicator = liveIndicator();
  let drawn = JSON.stringify(data);
  show(runPage(data, indicator));
  const reload = async () => {
    const next = await fetchRun(id, signal);
    if (signal.aborted) return;
    data = next;
    const key = JSON.stringify(next);
    if (key === drawn) return;
    drawn = key;
    show(runPage(next, indicator));
  };
  v.refresh = reload;
  live(v, () => (!TERMINAL.has(data.run.status) || data.run.verification?.result === 'pending' ? 1500 : 5000), reload, indicator);
}

function runPage({ run, audit }, indicator) {
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

  head.append(indicator);
  return [head, actionsSection(run), h('div', { class: 'cols' }, triggerSection(run), h('div', { class: 'stack-lg' }, guardSection(run), approvalSection(run))), outcome, loopSection(run), stepsSection(run), auditPart];
}

// ---------------------------------------------------------------------------------------------
// Audit log.

function entrySummary(e) {
  switch (e.type) {
    case 'run_created':
      return [`${e.source === 'alert' ? `alert ${e.alertname ?? ''}` : e.source === 'escalation' ? 'escalation' : 'manual'} run created as `, h('strong', {}, e.status ?? '?'), e.dryRun ? ' (dry-run)' : '', ' ', json(e.params)];
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
    clear: () => listWrap.replaceChildren(),
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
// Start a run: the playbook's params (JSON Schema from GET /playbooks) as a form.

async function loadPlaybooks(signal) {
  const res = await api('playbooks', null, signal);
  return (res.items ?? []).filter((p) => p && typeof p.name === 'string');
}

/** One input per schema property: enums and booleans as selects (empty = the default), numbers, text, JSON for objects. */
function paramField(name, prop, required) {
  const id = `param-${name}`;
  const def = prop.default;
  const hint = [prop.description, def !== undefined ? `Default: ${JSON.stringify(def)}.` : null].filter(Boolean).join(' ');
  let input;
  if (Array.isArray(prop.enum) || prop.type === 'boolean') {
    const values = prop.type === 'boolean' ? ['true', 'false'] : prop.enum.map(String);
    input = h('select', { id, name, 'data-type': prop.type ?? 'string', required },
      required ? null : h('option', { value: '' }, def !== undefined ? `default (${String(def)})` : 'not set'),
      values.map((val) => h('option', { value: val }, val)));
  } else if (prop.type === 'integer' || prop.type === 'number') {
    input = h('input', { id, name, type: 'number', step: prop.type === 'integer' ? '1' : 'any', 'data-type': prop.type, required,
      min: typeof prop.minimum === 'number' && Math.abs(prop.minimum) < 1e15 ? prop.minimum : undefined,
      max: typeof prop.maximum === 'number' && Math.abs(prop.maximum) < 1e15 ? prop.maximum : undefined,
      placeholder: def !== undefined ? String(def) : '' });
  } else if (prop.type === 'object') {
    input = h('textarea', { id, name, rows: 2, 'data-type': 'object', spellcheck: 'false', placeholder: 'JSON, e.g. {"key": "…", "effect": "NoSchedule"}' });
  } else {
    input = h('input', { id, name, type: 'text', 'data-type': 'string', required, spellcheck: 'false', autocomplete: 'off', placeholder: def !== undefined ? String(def) : '' });
  }
  return h('div', { class: 'field param', 'data-param': name },
    h('label', { for: id }, name, required ? h('span', { class: 'req' }, ' (required)') : ''),
    input,
    hint ? h('p', { class: 'muted small' }, hint) : null,
    h('p', { class: 'form-error field-error', id: `${id}-error` }));
}

/** The form's values as params: empty fields are left out, so the playbook's defaults apply. */
function readParams(form) {
  const params = {};
  const problems = [];
  for (const el of form.querySelectorAll('[data-type]')) {
    const raw = el.value.trim();
    if (raw === '') continue;
    const type = el.dataset.type;
    if (type === 'integer' || type === 'number') params[el.name] = Number(raw);
    else if (type === 'boolean') params[el.name] = raw === 'true';
    else if (type === 'object') {
      try {
        params[el.name] = JSON.parse(raw);
      } catch {
        problems.push({ path: `params.${el.name}`, message: 'not valid JSON' });
      }
    } else params[el.name] = raw;
  }
  return { params, problems };
}

function showFieldErrors(form, summary, problems, message) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  const rest = [];
  for (const p of problems) {
    const name = String(p.path ?? '').replace(/^params\./, '');
    const target = form.querySelector(`#param-${CSS.escape(name.split('.')[0])}-error`) ?? (p.path === 'reason' ? form.querySelector('#run-reason-error') : null);
    if (target) target.textContent = p.message;
    else rest.push(`${p.path}: ${p.message}`);
  }
  summary.textContent = `${message}${rest.length ? `: ${rest.join('; ')}` : ''}`;
}

async function newRunView(v, query) {
  const head = h('div', { class: 'page-head' }, h('p', { class: 'crumbs' }, h('a', { href: '#/runs' }, '← Runs')), h('h1', {}, 'Start a run'));
  if (!can('operator')) {
    show(head, notice(`Your token (${caller?.role ?? 'viewer'}) may not start runs; an operator or admin token can.`, 'warn'));
    return;
  }
  const playbooks = await loadPlaybooks(v.controller.signal);
  if (v.controller.signal.aborted) return;
  const chosen = playbooks.find((p) => p.name === query.get('playbook')) ?? playbooks[0];
  if (!chosen) {
    show(head, notice('This server has no playbooks.', 'warn'));
    return;
  }
  const schema = chosen.paramsSchema ?? {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const props = Object.entries(schema.properties ?? {});
  const picker = h('select', { id: 'run-playbook', name: 'playbook', on: { change: () => go(hashFor('/new-run', { playbook: picker.value })) } },
    playbooks.map((p) => h('option', { value: p.name, selected: p.name === chosen.name }, `${p.name}${p.destructive ? ' (destructive)' : ''}`)));
  const reason = h('textarea', { id: 'run-reason-input', name: 'reason', rows: 2, required: true });
  const dry = checkbox('run-dry-run', 'dryRun', true);
  const bypass = can('admin') ? checkbox('run-bypass', 'bypassGuards', false) : null;
  const precheck = h('input', { id: 'run-precheck', name: 'precheck', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'optional PromQL, e.g. max(DCGM_FI_DEV_GPU_TEMP{Hostname="gpu-node-3"}) > 85' });
  const summary = h('p', { id: 'run-form-error', class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'run-submit' }, 'Start the run');
  const form = h('form', { class: 'card run-form', id: 'new-run-form', novalidate: true, on: { submit: async (e) => {
    e.preventDefault();
    const { params, problems } = readParams(form);
    const missing = [...required].filter((k) => params[k] === undefined).map((k) => ({ path: `params.${k}`, message: 'required' }));
    if (!reason.value.trim()) missing.push({ path: 'reason', message: 'a reason is required and audited' });
    if (problems.length || missing.length) {
      showFieldErrors(form, summary, [...problems, ...missing], 'Please fix the marked fields');
      return;
    }
    submit.disabled = true;
    try {
      const body = { playbook: chosen.name, params, reason: reason.value.trim(), dryRun: dry.checked };
      if (bypass?.checked) body.bypassGuards = true;
      if (precheck.value.trim()) body.precheck = precheck.value.trim();
      const res = await apiPost('runs', body);
      flash(`Started ${chosen.name}${dry.checked ? ' (dry run)' : ''}: ${String(res.status).replace('_', ' ')}.`);
      goAfterAction(`#/runs/${encodeURIComponent(res.id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return void route();
      const details = err instanceof ApiError && Array.isArray(err.body?.details) ? err.body.details : [];
      showFieldErrors(form, summary, err instanceof ApiError && err.status === 400 ? details : [], err instanceof ApiError && err.status === 400 ? `Not accepted (400): ${err.message}` : describeRefusal(err));
      submit.disabled = false;
    }
  } } },
  h('div', { class: 'field' }, h('label', { for: 'run-playbook' }, 'Playbook'), picker),
  chosen.description ? h('p', { class: 'muted' }, chosen.description) : null,
  h('fieldset', { class: 'params' }, h('legend', {}, 'Params'), props.map(([name, prop]) => paramField(name, prop ?? {}, required.has(name)))),
  h('div', { class: 'field field-check' }, dry, h('label', { for: 'run-dry-run' }, 'Dry run: only plan the requests (dryRun=All); uncheck to act on the cluster')),
  bypass ? h('div', { class: 'field field-check' }, bypass, h('label', { for: 'run-bypass' }, 'Bypass guards (admin): cooldowns, rate limits and the node budget do not apply')) : null,
  h('div', { class: 'field' }, h('label', { for: 'run-precheck' }, 'Precheck (optional)'), precheck, h('p', { class: 'muted small' }, 'Evaluated right before the first mutation; an empty result skips the run.')),
  h('div', { class: 'field' }, h('label', { for: 'run-reason-input' }, 'Reason'), reason, h('p', { class: 'form-error field-error', id: 'run-reason-error' })),
  summary,
  submit);
  show(head, h('p', { class: 'muted' }, 'A manual run obeys the global guards (pause, namespaces, opt-out, node budget, concurrency, target lock) and may need a second operator\'s approval (guards.manualApproval).'), form);
}

// ---------------------------------------------------------------------------------------------
// Automation: what is paused, and (admin) pause or resume it.

async function automationView(v) {
  const [status, playbooks] = await Promise.all([api('status', null, v.controller.signal), loadPlaybooks(v.controller.signal)]);
  if (v.controller.signal.aborted) return;
  applyCaller(status);
  const paused = status.paused && typeof status.paused === 'object' ? status.paused : {};
  const scopes = [['global', 'All automation'], ...playbooks.map((p) => [p.name, `Playbook ${p.name}`])];
  const rows = scopes.map(([scope, label]) => {
    const p = paused[scope];
    return h('tr', { 'data-scope': scope },
      h('td', {}, h('strong', {}, label)),
      h('td', {}, p ? h('span', { class: 'badge st-failed' }, 'paused') : h('span', { class: 'badge st-succeeded' }, 'active')),
      h('td', {}, p ? [p.by ?? '?', ' since ', time(p.at), p.reason ? [': ', h('q', {}, p.reason)] : ''] : '—'),
      can('admin') ? h('td', {}, pauseButton(p ? 'resume' : 'pause', scope === 'global' ? undefined : scope)) : null);
  });
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id: 'automation-table' },
    h('thead', {}, h('tr', {}, ['Scope', 'State', 'Paused by', can('admin') ? 'Action' : null].filter(Boolean).map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)));
  const indicator = liveIndicator();
  show(h('div', { class: 'page-head' }, h('h1', {}, 'Automation'),
    h('p', { class: 'muted' }, can('admin') ? 'Pause stops every playbook, or one, from acting; alerts are still recorded. Resume lets them act again.' : 'What is paused. An admin token can pause and resume.'), indicator),
  status.dryRun ? notice('Dry-run mode: every run only plans its requests.', 'warn') : null,
  table);
  v.refresh = () => automationView(v);
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
    clear: () => body.replaceChildren(),
    counted: (n) => `${n} alert${n === 1 ? '' : 's'}`,
    none: Object.values(filters).some(Boolean) ? 'No alerts match these filters.' : 'No alert has been seen yet.',
  });
  if (v.controller.signal.aborted) return;
  const indicator = liveIndicator();
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'Alerts'), h('p', { class: 'muted' }, 'Every alert Alertmanager sent, once per episode: what was decided and why. Times are UTC; hover for local time.'), indicator);
  if (paged.unavailable) {
    show(head, notice('This server does not offer the alert inbox yet (GET /api/v1/alerts answered 404).', 'warn'));
    return;
  }
  v.refresh = paged.reload;
  live(v, 5000, paged.reload, indicator);
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
  caller = null;
  serverInfo.textContent = '';
  callerInfo.textContent = '';
  go('#/runs');
});
// A confirmation survives the navigation its action started (to the new run's page), not the next one.
let keepFlash = false;
window.addEventListener('hashchange', () => {
  if (!keepFlash) flashArea.replaceChildren();
  keepFlash = false;
  // The old page must not stand under the new address while the new one loads.
  if (token()) show(h('p', { class: 'muted', id: 'loading' }, 'Loading…'));
  void route();
});

/** Navigates after an action, keeping its confirmation on screen. */
function goAfterAction(hash) {
  keepFlash = location.hash !== hash;
  go(hash);
}
void route({ focus: false });

/**
 * A cursor-paged list under the API's `resource`: loads the first page, renders each page's items,
 * keeps a footer (count, "Load more", the empty notice). `unavailable` when the server answers
 * 404 (an older server without that API). `reload` fetches the newest items again, as many as
 * are shown, and redraws them (after `clear`) only when they changed.
 */
async function pagedList(v, query, { resource, filters, render, clear, counted, none }) {
  const footer = h('div', { class: 'list-footer' });
  let shown = [];
  let drawn = '';
  let unavailable = false;
  const draw = (nextCursor) => {
    footer.replaceChildren();
    if (shown.length === 0 && !nextCursor) footer.append(notice(none));
    else footer.append(h('p', { class: 'muted small', role: 'status' }, `${counted(shown.length)} shown, newest first${nextCursor ? '; more available' : ''}.`));
    if (nextCursor) footer.append(loadMoreButton(() => load(nextCursor), footer, v.controller.signal));
  };
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
    shown = [...shown, ...items];
    drawn = JSON.stringify(shown);
    draw(page.nextCursor);
  };
  const reload = async () => {
    const page = await api(resource, { ...filters, limit: Math.min(500, Math.max(pageSize(query), shown.length)) }, v.controller.signal);
    const items = Array.isArray(page.items) ? page.items : [];
    const key = JSON.stringify(items);
    if (key !== drawn) {
      clear();
      if (items.length) render(items);
      shown = items;
      drawn = key;
    }
    draw(page.nextCursor);
  };
  await firstLoad(load, footer);
  return { footer, unavailable, reload };
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
