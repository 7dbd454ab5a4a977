import { describe, expect, it } from 'vitest';
import { parseParamPairs, parseParamValue } from '../../../src/cli/client/parse-params.js';
import { CliError } from '../../../src/cli/client/exit-codes.js';

describe('-p key=value', () => {
  it('takes values that parse as JSON as JSON, the rest as strings', () => {
    expect(parseParamPairs(['namespace=ml-serving', 'maxReplicas=5', 'force=true', 'x=null', 'sel={"app":"llm"}', 'list=[1,2]', 'quoted="5"', 'name=llm-api'])).toEqual({
      namespace: 'ml-serving',
      maxReplicas: 5,
      force: true,
      x: null,
      sel: { app: 'llm' },
      list: [1, 2],
      quoted: '5',
      name: 'llm-api',
    });
  });

  it('splits at the first = only and keeps the rest of the value', () => {
    expect(parseParamPairs(['selector=app=llm', 'empty='])).toEqual({ selector: 'app=llm', empty: '' });
    expect(parseParamValue(' 7 ')).toBe(7);
    expect(parseParamValue('{not json')).toBe('{not json');
  });

  it('rejects pairs without a key, without = and repeated keys as usage errors (exit 2)', () => {
    for (const bad of [['novalue'], ['=5'], ['a=1', 'a=2']]) {
      let err: unknown;
      try {
        parseParamPairs(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(2);
    }
  });

  it('keeps __proto__ as a plain key', () => {
    const params = parseParamPairs(['__proto__={"polluted":true}']);
    expect(Object.keys(params)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(params)).toBe('{"__proto__":{"polluted":true}}');
  });
});
