import { describe, expect, it } from 'vitest';
import { formatMatcher, matchesAll, matchesLabel, parseMatcher } from '../../../src/alertmanager/matcher.js';
import { ValidationError } from '../../../src/domain/errors.js';

describe('parseMatcher: accepted syntax', () => {
  it.each([
    ['alertname="GPUNodeOverheating"', 'alertname', '=', 'GPUNodeOverheating'],
    ['severity!="info"', 'severity', '!=', 'info'],
    ['severity=~"critical|page"', 'severity', '=~', 'critical|page'],
    ['namespace!~"kube-.*"', 'namespace', '!~', 'kube-.*'],
    ['severity=critical', 'severity', '=', 'critical'],
    ['severity=~critical|page', 'severity', '=~', 'critical|page'],
    ['  alertname  =  "X"  ', 'alertname', '=', 'X'],
    ['alertname = X ', 'alertname', '=', 'X'],
    ['{alertname="X"}', 'alertname', '=', 'X'],
    ['foo=""', 'foo', '=', ''],
    ['foo=', 'foo', '=', ''],
    ['foo!=""', 'foo', '!=', ''],
    ['_private_1="x"', '_private_1', '=', 'x'],
    ['"gpu.model"="H100"', 'gpu.model', '=', 'H100'],
    ['summary="a \\"quoted\\" word"', 'summary', '=', 'a "quoted" word'],
    ['path="C:\\\\temp"', 'path', '=', 'C:\\temp'],
    ['text="line1\\nline2"', 'text', '=', 'line1\nline2'],
    // Unknown escapes keep their backslash, so regexes need no doubling (classic Alertmanager).
    ['instance=~"gpu-\\d+\\.example"', 'instance', '=~', 'gpu-\\d+\\.example'],
    ['summary="91°C on gpu-node-3"', 'summary', '=', '91°C on gpu-node-3'],
    ['summary="a, b = c"', 'summary', '=', 'a, b = c'],
  ])('%s', (text, name, operator, value) => {
    expect(parseMatcher(text)).toMatchObject({ name, operator, value });
  });

  it('compiles a regex only for =~ and !~', () => {
    expect(parseMatcher('a="x"').regex).toBeUndefined();
    expect(parseMatcher('a!="x"').regex).toBeUndefined();
    expect(parseMatcher('a=~"x"').regex?.test('x')).toBe(true);
    expect(parseMatcher('a!~"x"').regex?.test('xx')).toBe(false);
  });

  it.each([
    // RE2 syntax JavaScript lacks or reads differently, as Alertmanager (Go) reads it.
    ['v=~"(?U)a+"', 'aaa', true],
    ['v=~"(?i)error.*"', 'ERROR: disk', true],
    ['v=~"(?s)a.b"', 'a\nb', true],
    ['v=~"a.b"', 'a\nb', false],
    ['v=~"\\Qa.b\\E"', 'a.b', true],
    ['v=~"\\Qa.b\\E"', 'axb', false],
    ['v=~"[[:alpha:]]+"', 'GPU', true],
    ['v=~"\\pL+"', 'été', true],
    ['v=~"."', '😀', true],
    // Anchored on both ends, even with alternation or (?m) inside.
    ['v=~"crit|page"', 'critical', false],
    ['v=~"(?m)^a$"', 'a\nb', false],
  ])('RE2 semantics: %s against %j → %s', (text, value, expected) => {
    expect(parseMatcher(text).regex!.test(value)).toBe(expected);
  });

  it('answers a pattern that backtracks catastrophically in JavaScript, (a+)+$, against 10,000 characters in linear time', () => {
    const matcher = parseMatcher('pod=~"(a+)+$"');
    const started = performance.now();
    expect(matchesLabel(matcher, { pod: `${'a'.repeat(10_000)}b` })).toBe(false);
    const ms = performance.now() - started;
    console.log(`(a+)+$ against 10,001 characters: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
  });
});

describe('parseMatcher: rejected syntax', () => {
  it.each([
    ['', 'empty matcher'],
    ['   ', 'empty matcher'],
    ['{}', 'empty matcher'],
    ['alertname="GPUNodeOverheating', 'unclosed quote'],
    ['alertname="ends with backslash\\', 'unclosed quote'],
    // The quoted name swallows `alertname=`; the error says so.
    ['"alertname="X"', 'after label name "alertname=", found "X"'],
    ['"alertname=X', 'unclosed quote in label name'],
    ['""="X"', 'empty label name'],
    ['alertname', 'expected =, !=, =~ or !~ after label name "alertname", found end of input'],
    ['alertname~"X"', 'expected =, !=, =~ or !~ after label name "alertname", found "~"'],
    ['alertname=="X"', 'unexpected double quote inside an unquoted value'],
    ['foo:bar="x"', 'found ":"'],
    ['1abc="x"', 'expected a label name, found "1"'],
    ['="x"', 'expected a label name, found "="'],
    ['alertname="X" trailing', 'unexpected "trailing" after the closing quote'],
    ['alertname="X", severity="critical"', 'more than one matcher'],
    ['alertname=X,severity=critical', 'unquoted value contains ","'],
    ['alertname=GPU"Node', 'unexpected double quote inside an unquoted value'],
    ['severity=~"critical|(page"', 'invalid regular expression "critical|(page"'],
    ['severity=~"*"', 'invalid regular expression "*"'],
    // What RE2 (and so Alertmanager) refuses, though JavaScript would accept it.
    ['severity=~"(?<=a)b"', 'invalid regular expression "(?<=a)b" (RE2 syntax): invalid named capture'],
    ['severity=~"(a)\\1"', '(RE2 syntax): invalid escape sequence: `\\1`'],
    ['severity=~"a{1001}"', 'invalid regular expression "a{1001}" (RE2 syntax): invalid repeat count'],
    ['severity=~"x\\y"', '(RE2 syntax): invalid escape sequence: `\\y`'],
  ])('%j → %s', (text, message) => {
    expect(() => parseMatcher(text)).toThrow(ValidationError);
    expect(() => parseMatcher(text)).toThrow(message);
  });

  it('names the matcher in the message and the reason in details', () => {
    try {
      parseMatcher('alertname="GPU');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toBe('unclosed quote in matcher alertname="GPU');
      expect((error as ValidationError).details).toEqual([{ path: 'matcher', message: 'unclosed quote' }]);
    }
  });
});

describe('matching', () => {
  const labels = { alertname: 'GPUNodeOverheating', severity: 'critical', node: 'gpu-node-3', empty: '' };
  const m = (text: string) => matchesLabel(parseMatcher(text), labels);

  it('anchors regexes at both ends, as Alertmanager does', () => {
    expect(m('alertname=~"GPU.*"')).toBe(true);
    expect(m('alertname=~"GPU"')).toBe(false);
    expect(m('alertname=~"Overheating"')).toBe(false);
    expect(m('alertname=~".*Overheating"')).toBe(true);
    // Alternation stays inside the anchors: not "^critical" OR "page$".
    expect(m('severity=~"critic|page"')).toBe(false);
    expect(m('severity=~"critical|page"')).toBe(true);
    expect(m('alertname!~"GPU"')).toBe(true);
    expect(m('alertname!~"GPU.*"')).toBe(false);
  });

  it('compares = and != exactly', () => {
    expect(m('severity="critical"')).toBe(true);
    expect(m('severity="Critical"')).toBe(false);
    expect(m('severity="critica"')).toBe(false);
    expect(m('severity!="critical"')).toBe(false);
    expect(m('severity!="warning"')).toBe(true);
  });

  it('treats a missing label as the empty string', () => {
    expect(m('namespace=""')).toBe(true);
    expect(m('namespace!=""')).toBe(false);
    expect(m('node!=""')).toBe(true);
    expect(m('empty=""')).toBe(true);
    expect(m('namespace=~".*"')).toBe(true);
    expect(m('namespace=~".+"')).toBe(false);
    expect(m('namespace!~"ml-.*"')).toBe(true);
    expect(m('namespace="kube-system"')).toBe(false);
  });

  it('does not see Object.prototype members as labels', () => {
    expect(m('constructor=""')).toBe(true);
    expect(m('toString!=""')).toBe(false);
    expect(m('__proto__=""')).toBe(true);
  });

  it('turns a leading RE2 (?i) flag group into a case-insensitive match', () => {
    expect(m('severity=~"(?i)CRITICAL"')).toBe(true);
    expect(m('severity=~"CRITICAL"')).toBe(false);
  });

  it('matches escaped characters literally', () => {
    const withQuote = { summary: 'say "hi"', path: 'C:\\temp', host: 'gpu-1.example' };
    expect(matchesLabel(parseMatcher('summary="say \\"hi\\""'), withQuote)).toBe(true);
    expect(matchesLabel(parseMatcher('path="C:\\\\temp"'), withQuote)).toBe(true);
    expect(matchesLabel(parseMatcher('host=~"gpu-\\d\\.example"'), withQuote)).toBe(true);
    expect(matchesLabel(parseMatcher('host=~"gpu-\\d\\.example"'), { host: 'gpu-1Xexample' })).toBe(false);
  });

  it('requires all matchers (an empty list matches everything)', () => {
    const gpu = ['alertname="GPUNodeOverheating"', 'severity=~"critical|page"'].map(parseMatcher);
    expect(matchesAll(gpu, labels)).toBe(true);
    expect(matchesAll(gpu, { ...labels, severity: 'warning' })).toBe(false);
    expect(matchesAll([], labels)).toBe(true);
  });
});

describe('formatMatcher', () => {
  it.each(['alertname="X"', 'severity=~"critical|page"', 'a!="say \\"hi\\""', 'b!~"x\\\\d"', '"gpu.model"="H100"', 'c="l1\\nl2"'])(
    'round-trips %s',
    (text) => {
      const matcher = parseMatcher(text);
      expect(formatMatcher(matcher)).toBe(text);
      expect(parseMatcher(formatMatcher(matcher))).toMatchObject({ name: matcher.name, operator: matcher.operator, value: matcher.value });
    },
  );

  it('quotes unquoted input', () => {
    expect(formatMatcher(parseMatcher('severity=critical'))).toBe('severity="critical"');
  });
});
