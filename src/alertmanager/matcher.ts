import { RE2JS } from 're2js';
import { ValidationError } from '../domain/errors.js';

export type MatchOperator = '=' | '!=' | '=~' | '!~';

/** A compiled matcher regex: a whole-value match, in linear time. */
export interface LabelRegex {
  test(value: string): boolean;
}

/**
 * One Alertmanager label matcher. `regex` is set for `=~` and `!~` and is anchored on both ends,
 * as Alertmanager anchors every matcher regex (`^(?:re)$`).
 */
export interface Matcher {
  readonly name: string;
  readonly operator: MatchOperator;
  readonly value: string;
  readonly regex?: LabelRegex;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
// Longest operators first: `=~` must win over `=`, or the `~` would become part of the value.
const OPERATORS: readonly MatchOperator[] = ['=~', '!~', '!=', '='];
/** Compiled patterns by source; rules compile once, simulations and API filters reuse them. */
const compiled = new Map<string, LabelRegex>();
const COMPILED_MAX = 2000;

/**
 * Parses one matcher in Alertmanager syntax: `name="value"`, `name!="value"`, `name=~"re"`,
 * `name!~"re"`, unquoted values (`severity=critical`), optional surrounding braces, and quoted
 * label names (`"gpu.model"="H100"`). Quoted values unescape `\"`, `\\` and `\n`; any other
 * backslash stays literal, as in Alertmanager's classic parser, so regexes like `\d+` need no
 * doubling. Throws a ValidationError saying what is wrong and where.
 */
export function parseMatcher(text: string): Matcher {
  const fail = (reason: string): never => {
    throw new ValidationError(`${reason} in matcher ${text}`, [{ path: 'matcher', message: reason }]);
  };

  let source = text.trim();
  if (source.startsWith('{') && source.endsWith('}')) source = source.slice(1, -1).trim();
  if (source === '') fail('empty matcher');

  let pos = 0;
  let name: string;
  if (source[0] === '"') {
    const quoted = readQuoted(source, 0);
    if (!quoted) return fail('unclosed quote in label name');
    name = quoted.value;
    pos = quoted.end;
    if (name === '') fail('empty label name');
  } else {
    const match = LABEL_NAME.exec(source);
    if (!match) return fail(`expected a label name, found ${JSON.stringify(source[0])}`);
    name = match[0];
    pos = match[0].length;
  }

  pos = skipSpaces(source, pos);
  const operator = OPERATORS.find((op) => source.startsWith(op, pos));
  if (!operator) {
    const found = pos < source.length ? JSON.stringify(source[pos]) : 'end of input';
    return fail(`expected =, !=, =~ or !~ after label name "${name}", found ${found}`);
  }
  pos = skipSpaces(source, pos + operator.length);

  let value: string;
  if (source[pos] === '"') {
    const quoted = readQuoted(source, pos);
    if (!quoted) return fail('unclosed quote');
    value = quoted.value;
    const rest = source.slice(quoted.end).trim();
    if (rest.startsWith(',')) fail('more than one matcher (write each as its own list entry)');
    else if (rest !== '') fail(`unexpected ${JSON.stringify(rest)} after the closing quote`);
  } else {
    const raw = source.slice(pos);
    // Unquoted text ends the matcher; a quote or comma inside it is almost always a typo
    // (a half-quoted value, or two matchers on one line), and guessing would change what matches.
    if (raw.includes('"')) fail('unexpected double quote inside an unquoted value (quote the whole value)');
    if (raw.includes(',')) fail('unquoted value contains "," (quote the value, or write each matcher as its own list entry)');
    value = unescape(raw);
  }

  if (operator === '=~' || operator === '!~') {
    return { name, operator, value, regex: compileAnchored(value, fail) };
  }
  return { name, operator, value };
}

/** A label the alert does not carry counts as the empty string (so `foo=""` matches its absence). */
export function matchesLabel(matcher: Matcher, labels: Readonly<Record<string, string>>): boolean {
  // hasOwn, not `in`/indexing: a label named `constructor` must not find Object.prototype's.
  const actual = Object.hasOwn(labels, matcher.name) ? (labels[matcher.name] ?? '') : '';
  switch (matcher.operator) {
    case '=':
      return actual === matcher.value;
    case '!=':
      return actual !== matcher.value;
    case '=~':
      return matcher.regex!.test(actual);
    case '!~':
      return !matcher.regex!.test(actual);
  }
}

export function matchesAll(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((matcher) => matchesLabel(matcher, labels));
}

/** Canonical text of a matcher (quoted, escaped), e.g. for logs and run records. */
export function formatMatcher(matcher: Matcher): string {
  const name = LABEL_NAME.exec(matcher.name)?.[0] === matcher.name ? matcher.name : quote(matcher.name);
  return `${name}${matcher.operator}${quote(matcher.value)}`;
}

function quote(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"')}"`;
}

function skipSpaces(text: string, pos: number): number {
  while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  return pos;
}

/** Reads a double-quoted string starting at `start`; undefined when the closing quote is missing. */
function readQuoted(text: string, start: number): { value: string; end: number } | undefined {
  let raw = '';
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      if (i + 1 >= text.length) return undefined;
      raw += ch + text[i + 1];
      i++;
    } else if (ch === '"') {
      return { value: unescape(raw), end: i + 1 };
    } else {
      raw += ch;
    }
  }
  return undefined;
}

function unescape(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    const next = raw[i + 1];
    if (ch !== '\\' || next === undefined) {
      out += ch;
      continue;
    }
    i++;
    if (next === 'n') out += '\n';
    else if (next === '"' || next === '\\') out += next;
    // Not an escape Alertmanager knows: keep the backslash, so `\d` or `\.` reach the regex intact.
    else out += ch + next;
  }
  return out;
}

/**
 * Alertmanager regexes are Go RE2, and so are these: re2js (RE2's own semantics and syntax, linear
 * time whatever the pattern and the label), anchored as Alertmanager anchors them. A pattern RE2
 * refuses (lookaround, backreferences, repeat counts over 1000) is refused here with RE2's reason;
 * a pattern that backtracks catastrophically in JavaScript (`(a+)+$`) is harmless.
 */
function compileAnchored(pattern: string, fail: (reason: string) => never): LabelRegex {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:${pattern})$`);
  } catch (error) {
    // re2js quotes the offending part, e.g. "invalid named capture: `(?<=a)b`".
    const reason = (error as Error).message.replace(/^error parsing regexp: /, '');
    return fail(`invalid regular expression ${JSON.stringify(pattern)} (RE2 syntax): ${reason}`);
  }
  const regex: LabelRegex = { test: (value) => re.matches(value) };
  if (compiled.size >= COMPILED_MAX) compiled.delete(compiled.keys().next().value as string);
  compiled.set(pattern, regex);
  return regex;
}
