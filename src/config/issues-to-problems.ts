import type { z } from 'zod';
import type { ConfigProblem } from './config-error.js';
import { formatPath } from './format-path.js';

/** Flattens zod issues into `{path, message}` problems under `prefix`; one problem per unknown key. */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: formatPath([...path, key]), message: 'unknown key' });
    } else {
      problems.push({ path: formatPath(path), message: issue.message });
    }
  }
  return problems;
}

/**
 * Per-parse error map: zod 4 words a missing key as "expected string, received undefined"; say
 * "Required". Messages set on the schema itself still win over this one.
 */
export function requiredMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? 'Required' : undefined;
}
