/**
 * Label and field selectors: the query-string forms (`labelSelector=`, `fieldSelector=`) and the
 * structured `LabelSelector` of workloads and PodDisruptionBudgets.
 */
import type { LabelSelector, LabelSelectorRequirement } from './kube-types.js';
import { badRequest } from './status.js';

export type ParsedRequirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of input) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = '[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?';
const VALUE = '([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const SET_RE = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(([^)]*)\\)$`);
const EQ_RE = new RegExp(`^(${KEY})\\s*(==|!=|=)\\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(`^(!?)\\s*(${KEY})$`);

/** Parses a `labelSelector` query value; 400 BadRequest on a syntax error, like the server. */
export function parseLabelSelector(input: string): ParsedRequirement[] {
  return splitTopLevel(input).map((part) => {
    const set = SET_RE.exec(part);
    if (set) {
      const values = (set[4] ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0);
      return { key: set[1] ?? '', op: set[3] === 'notin' ? 'notin' : 'in', values };
    }
    const eq = EQ_RE.exec(part);
    if (eq) {
      return { key: eq[1] ?? '', op: eq[3] === '!=' ? 'notin' : 'in', values: [eq[4] ?? ''] };
    }
    const exists = EXISTS_RE.exec(part);
    if (exists) return { key: exists[2] ?? '', op: exists[1] === '!' ? '!exists' : 'exists' };
    throw badRequest(`unable to parse requirement: found '${part}', expected: identifier`);
  });
}

export function matchesRequirements(labels: Record<string, string> | undefined, reqs: ParsedRequirement[]): boolean {
  const l = labels ?? {};
  return reqs.every((req) => {
    const has = Object.prototype.hasOwnProperty.call(l, req.key);
    switch (req.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && req.values.includes(l[req.key] ?? '');
      case 'notin':
        return !has || !req.values.includes(l[req.key] ?? '');
    }
  });
}

function requirementFromExpression(expr: LabelSelectorRequirement): ParsedRequirement {
  switch (expr.operator) {
    case 'In':
      return { key: expr.key, op: 'in', values: expr.values ?? [] };
    case 'NotIn':
      return { key: expr.key, op: 'notin', values: expr.values ?? [] };
    case 'Exists':
      return { key: expr.key, op: 'exists' };
    case 'DoesNotExist':
      return { key: expr.key, op: '!exists' };
  }
}

/**
 * metav1.LabelSelectorAsSelector: an absent selector selects nothing, an empty one everything.
 */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: LabelSelector | undefined): boolean {
  if (!selector) return false;
  const reqs: ParsedRequirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    op: 'in',
    values: [value],
  }));
  for (const expr of selector.matchExpressions ?? []) reqs.push(requirementFromExpression(expr));
  return matchesRequirements(labels, reqs);
}

/** The string form that Scale.status.selector and `kubectl describe` show. */
export function formatLabelSelector(selector: LabelSelector | undefined): string {
  if (!selector) return '';
  const parts = Object.entries(selector.matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  for (const expr of selector.matchExpressions ?? []) {
    const values = [...(expr.values ?? [])].sort().join(',');
    if (expr.operator === 'In') parts.push(`${expr.key} in (${values})`);
    else if (expr.operator === 'NotIn') parts.push(`${expr.key} notin (${values})`);
    else if (expr.operator === 'Exists') parts.push(expr.key);
    else parts.push(`!${expr.key}`);
  }
  return parts.join(',');
}

export interface FieldRequirement {
  field: string;
  negate: boolean;
  value: string;
}

export function parseFieldSelector(input: string): FieldRequirement[] {
  return splitTopLevel(input).map((part) => {
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    return { field: (m[1] ?? '').trim(), negate: m[2] === '!=', value: (m[3] ?? '').trim() };
  });
}
