import { ValidationError } from '../domain/errors.js';

export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * The configuration cannot be used. Carries every problem found, each with its path
 * (`rules[1].matchers[0]`), so one run of `remediator validate` shows everything to fix.
 */
export class ConfigError extends ValidationError {
  constructor(
    readonly source: string,
    details: ConfigProblem[],
  ) {
    const count = details.length === 1 ? '1 problem' : `${details.length} problems`;
    const lines = details.map((d) => `  ${d.path}: ${d.message}`).join('\n');
    super(`invalid configuration ${source} (${count}):\n${lines}`, details);
  }
}
