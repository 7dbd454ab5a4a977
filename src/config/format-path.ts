const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `['rules', 1, 'matchers', 0]` → `rules[1].matchers[0]`; odd keys are quoted (`params["a.b"]`). */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(root)' : out;
}
