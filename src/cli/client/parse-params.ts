import { CliError, EXIT } from './exit-codes.js';

/**
 * `-p key=value` pairs into run params. A value that parses as JSON is taken as JSON (numbers,
 * booleans, null, objects, arrays, quoted strings); anything else is a plain string. Only the
 * syntax is checked here: the server validates params against the playbook's schema.
 */
export function parseParamPairs(pairs: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid -p "${pair}": expected key=value`, EXIT.usage);
    const key = pair.slice(0, eq).trim();
    if (key === '') throw new CliError(`invalid -p "${pair}": the key is empty`, EXIT.usage);
    if (Object.hasOwn(params, key)) throw new CliError(`-p ${key} given twice`, EXIT.usage);
    // defineProperty: a key such as __proto__ is kept as data, not as the object's prototype.
    Object.defineProperty(params, key, { value: parseParamValue(pair.slice(eq + 1)), enumerable: true, writable: true, configurable: true });
  }
  return params;
}

export function parseParamValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return text;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return text;
  }
}

/** Commander's collector for a repeatable option. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
