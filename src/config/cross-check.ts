import type { AnyPlaybook } from '../engine/playbook.js';
import { checkRuleParams } from './check-rule-params.js';
import { checkRuleQueries } from './check-rule-queries.js';
import { checkRuleEscalation } from './check-rule-escalation.js';
import { DEFAULT_ALERT_LABELS_READ } from './alert-param-keys.js';
import type { ConfigProblem } from './config-error.js';
import { formatPath } from './format-path.js';

/** Anything that finds a playbook by name; a `Map` qualifies. */
export interface PlaybookLookup {
  get(name: string): AnyPlaybook | undefined;
}

/**
 * Checks that span entries or need the playbooks: unique names, known playbooks, rule params
 * against the playbook's schema, notification references. Works on the raw YAML value, entry by
 * entry, so one broken rule does not hide the problems of the next.
 */
export function crossCheck(
  raw: Record<string, unknown>,
  playbooks: PlaybookLookup,
  alertParamKeys: Readonly<Record<string, readonly string[]>>,
  alertLabelsRead: Readonly<Record<string, readonly string[]>> = DEFAULT_ALERT_LABELS_READ,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const rules = Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
  const notifications = Array.isArray(raw.notifications) ? (raw.notifications as unknown[]) : undefined;
  const tokens = isRecord(raw.auth) && Array.isArray(raw.auth.tokens) ? (raw.auth.tokens as unknown[]) : [];

  problems.push(...duplicateNames(tokens, ['auth', 'tokens'], 'token'));
  problems.push(...duplicateNames(notifications ?? [], ['notifications'], 'notification'));
  problems.push(...duplicateNames(rules, ['rules'], 'rule'));

  const notificationNames = new Set(
    (notifications ?? []).flatMap((entry) => (isRecord(entry) && typeof entry.name === 'string' ? [entry.name] : [])),
  );
  const knownPlaybooks = listNames(playbooks);

  rules.forEach((rule, index) => {
    if (!isRecord(rule)) return;
    const at = (...rest: PropertyKey[]) => ['rules', index, ...rest];

    if (typeof rule.playbook === 'string' && rule.playbook !== '') {
      const playbook = playbooks.get(rule.playbook);
      if (!playbook) {
        const hint = knownPlaybooks ? ` (known: ${knownPlaybooks.join(', ')})` : '';
        problems.push({ path: formatPath(at('playbook')), message: `unknown playbook ${JSON.stringify(rule.playbook)}${hint}` });
      } else if (rule.params === undefined || isRecord(rule.params)) {
        const params = (rule.params ?? {}) as Record<string, unknown>;
        problems.push(...checkRuleParams(playbook, params, alertParamKeys[playbook.name] ?? [], at('params')));
      }
    }

    problems.push(...checkRuleEscalation(rule, at, playbooks, alertParamKeys));

    const references: [PropertyKey[], unknown][] = [[at('notify'), rule.notify]];
    if (isRecord(rule.escalate)) references.push([at('escalate', 'notify'), rule.escalate.notify]);
    for (const [path, list] of references) {
      if (!Array.isArray(list)) continue;
      list.forEach((name, k) => {
        if (typeof name === 'string' && name !== '' && !notificationNames.has(name)) {
          problems.push({ path: formatPath([...path, k]), message: `unknown notification ${JSON.stringify(name)}` });
        }
      });
    }

    problems.push(
      ...checkRuleQueries(rule, at, {
        hasPrometheus: raw.prometheus !== undefined,
        hasAlertmanager: raw.alertmanager !== undefined,
        labelsRead: typeof rule.playbook === 'string' ? (alertLabelsRead[rule.playbook] ?? []) : [],
      }),
    );
  });
  return problems;
}

function duplicateNames(entries: readonly unknown[], path: PropertyKey[], what: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (!isRecord(entry) || typeof entry.name !== 'string') return;
    const first = seen.get(entry.name);
    if (first === undefined) seen.set(entry.name, index);
    else
      problems.push({
        path: formatPath([...path, index, 'name']),
        message: `duplicate ${what} name ${JSON.stringify(entry.name)} (first used by ${formatPath([...path, first])})`,
      });
  });
  return problems;
}

function listNames(playbooks: PlaybookLookup): string[] | undefined {
  const keys = (playbooks as { keys?: () => Iterable<string> }).keys;
  return typeof keys === 'function' ? [...keys.call(playbooks)].sort() : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
