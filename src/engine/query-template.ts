/**
 * PromQL with `{{ labels.NAME }}` placeholders (README "Closing the loop"). A placeholder may only stand inside
 * a double- or single-quoted string literal, and the value put there is escaped for that literal,
 * so a label value (`"`, `\`, `}`, a newline, anything) can never change the query's shape.
 * Raw (backtick) strings cannot escape anything, so placeholders are refused there.
 */
export interface QueryTemplate {
  readonly text: string;
  /** Label names the placeholders read, in order of first use. */
  readonly labels: readonly string[];
  /** Why the template is unusable (empty when it is fine). */
  readonly problems: readonly string[];
}

type Segment = { literal: string } | { label: string; quote: '"' | "'" };

const PLACEHOLDER = /^\{\{\s*labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;

export function parseQueryTemplate(text: string): QueryTemplate & { segments: readonly Segment[] } {
  const segments: Segment[] = [];
  const labels: string[] = [];
  const problems: string[] = [];
  let literal = '';
  let quote: '"' | "'" | '`' | undefined;
  for (let i = 0; i < text.length; ) {
    const ch = text[i]!;
    if (text.startsWith('{{', i)) {
      const match = PLACEHOLDER.exec(text.slice(i));
      const close = text.indexOf('}}', i + 2);
      const shown = match ? match[0] : text.slice(i, close !== -1 && close < i + 40 ? close + 2 : i + 20);
      if (!match) problems.push(`unrecognised placeholder ${JSON.stringify(shown)} (write {{ labels.NAME }})`);
      else if (quote === undefined) problems.push(`placeholder ${shown} must stand inside a quoted string, e.g. node="${shown}"`);
      else if (quote === '`') problems.push(`placeholder ${shown} cannot stand in a raw (backtick) string: use "…" or '…'`);
      else {
        segments.push({ literal }, { label: match[1]!, quote });
        literal = '';
        if (!labels.includes(match[1]!)) labels.push(match[1]!);
      }
      const length = match ? match[0].length : 2;
      if (!match) literal += text.slice(i, i + length);
      i += length;
      continue;
    }
    literal += ch;
    i += 1;
    if (quote === undefined) {
      if (ch === '"' || ch === "'" || ch === '`') quote = ch;
      else if (ch === '#') {
        // A comment runs to the end of the line; quotes in it open nothing.
        const end = text.indexOf('\n', i);
        const stop = end === -1 ? text.length : end;
        literal += text.slice(i, stop);
        i = stop;
      }
    } else if (ch === '\\' && quote !== '`' && i < text.length) {
      literal += text[i];
      i += 1;
    } else if (ch === quote) {
      quote = undefined;
    }
  }
  if (quote !== undefined) problems.push(`unterminated ${quote} string`);
  segments.push({ literal });
  return { text, labels, problems, segments };
}

/** Thrown when the alert lacks a label the query reads; the alert's decision is `invalid_params`. */
export class MissingLabelError extends Error {
  constructor(readonly label: string) {
    super(`the alert has no "${label}" label, which the query reads`);
  }
}

/** The query with every placeholder replaced by its escaped label value. */
export function renderQuery(template: string, labels: Readonly<Record<string, string>>): string {
  const parsed = parseQueryTemplate(template);
  if (parsed.problems.length > 0) throw new Error(`invalid query template: ${parsed.problems.join('; ')}`);
  return parsed.segments
    .map((segment) => {
      if ('literal' in segment) return segment.literal;
      const value = labels[segment.label];
      if (value === undefined) throw new MissingLabelError(segment.label);
      return escapePromString(value, segment.quote);
    })
    .join('');
}

/**
 * The inside of a PromQL string literal (Go's escapes) holding exactly `value`: backslash, the
 * quote, and every control character are escaped, so the literal cannot end early.
 */
export function escapePromString(value: string, quote: '"' | "'"): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}
