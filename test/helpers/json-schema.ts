/**
 * A small JSON Schema (draft 2020-12) validator for the keywords the OpenAPI description uses.
 * A keyword it does not know is an error, never silently ignored, so a schema can never look
 * checked while it is not. `$ref`s resolve as JSON pointers into `root` (`#/components/...`).
 */

type Schema = boolean | Record<string, unknown>;

/** Keywords that annotate and never assert. */
const ANNOTATIONS = new Set(['description', 'default', 'title', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly', 'contentMediaType']);

const ASSERTIONS = new Set([
  '$ref', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'minItems', 'maxItems',
  'anyOf', 'oneOf', 'allOf', 'not', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'format',
]);

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export interface SchemaIssue {
  path: string;
  message: string;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return typeOf(value) === 'object';
    default:
      return typeOf(value) === type;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function resolvePointer(root: unknown, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeOf(node) !== 'object' || !(key in (node as Record<string, unknown>))) throw new Error(`unresolvable $ref ${ref}`);
    node = (node as Record<string, unknown>)[key];
  }
  return node as Schema;
}

/** Every problem of `value` against `schema`; empty when it validates. */
export function validateJson(schema: Schema, value: unknown, root: unknown, path = '$'): SchemaIssue[] {
  if (schema === true) return [];
  if (schema === false) return [{ path, message: 'no value is allowed here' }];
  const issues: SchemaIssue[] = [];
  const fail = (message: string, at = path): void => void issues.push({ path: at, message });
  for (const key of Object.keys(schema)) {
    if (!ASSERTIONS.has(key) && !ANNOTATIONS.has(key)) throw new Error(`unsupported JSON Schema keyword "${key}" at ${path}`);
  }
  const s = schema as Record<string, any>;

  if (s.$ref !== undefined) issues.push(...validateJson(resolvePointer(root, s.$ref as string), value, root, path));
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => hasType(value, t))) {
      fail(`expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return issues;
    }
  }
  if (s.enum !== undefined && !(s.enum as unknown[]).some((v) => deepEqual(v, value))) fail(`expected one of ${JSON.stringify(s.enum)}, got ${JSON.stringify(value)}`);
  if (s.const !== undefined && !deepEqual(s.const, value)) fail(`expected ${JSON.stringify(s.const)}, got ${JSON.stringify(value)}`);

  if (typeof value === 'string') {
    if (s.minLength !== undefined && [...value].length < s.minLength) fail(`shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && [...value].length > s.maxLength) fail(`longer than ${s.maxLength}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value)) fail(`does not match ${s.pattern}: ${JSON.stringify(value)}`);
    if (s.format !== undefined) {
      if (s.format !== 'date-time') throw new Error(`unsupported format ${s.format} at ${path}`);
      if (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) fail(`not an RFC 3339 date-time: ${JSON.stringify(value)}`);
    }
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) fail(`below the minimum ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) fail(`above the maximum ${s.maximum}`);
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) fail(`not above ${s.exclusiveMinimum}`);
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) fail(`not below ${s.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) fail(`fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) fail(`more than ${s.maxItems} items`);
    if (s.items !== undefined) value.forEach((item, i) => issues.push(...validateJson(s.items as Schema, item, root, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required ?? []) as string[]) if (!(key in obj)) fail(`missing required property "${key}"`);
    for (const [key, v] of Object.entries(obj)) {
      const at = `${path}.${key}`;
      if (s.propertyNames !== undefined) issues.push(...validateJson(s.propertyNames as Schema, key, root, `${at} (name)`));
      if (key in props) issues.push(...validateJson(props[key]!, v, root, at));
      else if (s.additionalProperties === false) fail(`property "${key}" is not allowed`, at);
      else if (s.additionalProperties !== undefined) issues.push(...validateJson(s.additionalProperties as Schema, v, root, at));
    }
  }

  if (s.allOf !== undefined) for (const sub of s.allOf as Schema[]) issues.push(...validateJson(sub, value, root, path));
  if (s.anyOf !== undefined) {
    const results = (s.anyOf as Schema[]).map((sub) => validateJson(sub, value, root, path));
    if (!results.some((r) => r.length === 0)) fail(`matches none of anyOf: ${results.map((r) => r[0]?.message).join(' | ')}`);
  }
  if (s.oneOf !== undefined) {
    const results = (s.oneOf as Schema[]).map((sub) => validateJson(sub, value, root, path));
    const matched = results.filter((r) => r.length === 0).length;
    if (matched !== 1) {
      // Explain with the branch whose discriminating `type` const fits, if there is one.
      const closest = results.find((r) => !r.some((i) => /expected ".*", got/.test(i.message) && i.path.endsWith('.type'))) ?? results[0];
      fail(matched === 0 ? `matches none of oneOf: ${JSON.stringify(closest?.slice(0, 3))}` : `matches ${matched} branches of oneOf`);
    }
  }
  if (s.not !== undefined && validateJson(s.not as Schema, value, root, path).length === 0) fail('matches a schema it must not');
  return issues;
}
