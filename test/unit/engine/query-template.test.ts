import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapePromString, MissingLabelError, parseQueryTemplate, renderQuery } from '../../../src/engine/query-template.js';

/** Go's strconv.Unquote for the escapes PromQL strings use: what Prometheus reads back. */
function unquoteGo(literal: string): string {
  const quote = literal[0]!;
  let out = '';
  for (let i = 1; i < literal.length - 1; i++) {
    const ch = literal[i]!;
    if (ch === quote) throw new Error(`unescaped ${quote} at ${i}: the literal ended early`);
    if (ch === '\n') throw new Error('raw newline inside a literal');
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = literal[++i]!;
    const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (next in simple) out += simple[next];
    else if (next === 'x') {
      out += String.fromCharCode(parseInt(literal.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`unknown escape \\${next}`);
  }
  return out;
}

/** The string literals of a rendered query, found the way PromQL's lexer finds them. */
function stringLiterals(query: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < query.length; i++) {
    const ch = query[i]!;
    if (ch !== '"' && ch !== "'") continue;
    let j = i + 1;
    while (j < query.length && query[j] !== ch) j += query[j] === '\\' ? 2 : 1;
    found.push(query.slice(i, j + 1));
    i = j;
  }
  return found;
}

describe('PromQL query templates', () => {
  const template = 'max by (node) (DCGM_FI_DEV_GPU_TEMP{node="{{ labels.node }}", job=\'{{labels.job}}\'}) > 85';

  it('fills placeholders with the label values escaped for their literal', () => {
    expect(renderQuery(template, { node: 'gpu-node-1', job: 'dcgm' })).toBe(`max by (node) (DCGM_FI_DEV_GPU_TEMP{node="gpu-node-1", job='dcgm'}) > 85`);
    expect(renderQuery(template, { node: 'a"}) or vector(1) #\n\\', job: "it's" })).toBe(
      `max by (node) (DCGM_FI_DEV_GPU_TEMP{node="a\\"}) or vector(1) #\\n\\\\", job='it\\'s'}) > 85`,
    );
  });

  it('no label value can change the shape of the query (property, 2,000 values)', () => {
    const hostile = fc.oneof(fc.string({ unit: fc.constantFrom('"', "'", '\\', '}', '{', '\n', '\r', '\t', '\x00', '\x7f', '#', ')', 'a', ' ', '`', 'é', '😀') }), fc.string());
    fc.assert(
      fc.property(hostile, hostile, (node, job) => {
        const rendered = renderQuery(template, { node, job });
        // Outside its literals the query is exactly the template's text.
        const literals = stringLiterals(rendered);
        expect(literals.map(unquoteGo)).toEqual([node, job]);
        let skeleton = rendered;
        for (const literal of literals) skeleton = skeleton.replace(literal, '<s>');
        expect(skeleton).toBe('max by (node) (DCGM_FI_DEV_GPU_TEMP{node=<s>, job=<s>}) > 85');
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes control characters as \\x and leaves other text alone', () => {
    expect(escapePromString('\x01\x7fé', '"')).toBe('\\x01\\x7fé');
  });

  it('refuses to render when the alert lacks a label the query reads', () => {
    expect(() => renderQuery(template, { node: 'n' })).toThrow(MissingLabelError);
  });

  it('ignores quotes and braces inside comments and escaped quotes inside strings', () => {
    const parsed = parseQueryTemplate('up{a="x\\"{{ labels.node }}"} # it\'s {{ not }} checked');
    expect(parsed.problems).toEqual([]);
    expect(parsed.labels).toEqual(['node']);
  });
});
