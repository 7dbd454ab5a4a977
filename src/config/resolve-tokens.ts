import { resolve } from 'node:path';
import type { ConfigProblem } from './config-error.js';
import { formatPath } from './format-path.js';

export interface SecretSources {
  baseDir: string;
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => string;
  /**
   * `warn` (for `validate`): a secret that cannot be resolved here (a file this machine does not
   * have, a variable not set in this shell) is a warning, not a problem; `serve` keeps `error`.
   */
  unresolved?: 'error' | 'warn';
}

/**
 * Resolves each `auth.tokens[i]` secret (inline, file read and trimmed, or environment
 * variable) at load, so a missing secret stops the start instead of locking clients out later.
 * Works on the raw YAML value, so secrets are checked even when another part of the file is
 * invalid. Returns the secrets by entry index; problems never quote a secret.
 */
export function resolveTokens(rawTokens: unknown, sources: SecretSources): { secrets: Map<number, string>; problems: ConfigProblem[]; warnings: ConfigProblem[] } {
  const secrets = new Map<number, string>();
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const unresolved = new Map<number, string>();
  if (!Array.isArray(rawTokens)) return { secrets, problems, warnings };
  const missing = (index: number, problem: ConfigProblem) => {
    if (sources.unresolved !== 'warn') return problems.push(problem);
    warnings.push(problem);
    // Stands in for the secret so the rest of the file can be checked; never used to authenticate.
    unresolved.set(index, `unresolved-secret-${index}`);
    return undefined;
  };

  rawTokens.forEach((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) return;
    const { token, tokenFile, tokenEnv } = entry as Record<string, unknown>;
    const given = [token, tokenFile, tokenEnv].filter((value) => value !== undefined);
    if (given.length !== 1) return; // the schema reports it

    const at = (key: string) => formatPath(['auth', 'tokens', index, key]);
    let secret: string | undefined;
    if (typeof token === 'string') {
      secret = token.trim();
      if (secret === '') problems.push({ path: at('token'), message: 'is empty' });
    } else if (typeof tokenFile === 'string' && tokenFile !== '') {
      const file = resolve(sources.baseDir, tokenFile);
      try {
        secret = sources.readFile(file).trim();
        if (secret === '') problems.push({ path: at('tokenFile'), message: `${file} is empty` });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        missing(index, { path: at('tokenFile'), message: `cannot read ${file} (${code})` });
      }
    } else if (typeof tokenEnv === 'string' && tokenEnv !== '') {
      secret = sources.env[tokenEnv]?.trim();
      if (!secret) missing(index, { path: at('tokenEnv'), message: `environment variable ${tokenEnv} is not set or empty` });
    }
    if (secret) secrets.set(index, secret);
  });

  // One secret, two entries: which name and role would a request get? Refuse to guess.
  const firstWith = new Map<string, number>();
  for (const [index, secret] of secrets) {
    const first = firstWith.get(secret);
    if (first === undefined) firstWith.set(secret, index);
    else problems.push({ path: formatPath(['auth', 'tokens', index]), message: `same secret as auth.tokens[${first}]; every token must be distinct` });
  }
  for (const [index, stand] of unresolved) secrets.set(index, stand);
  return { secrets, problems, warnings };
}
