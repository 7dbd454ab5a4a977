/**
 * Vitest global setup: every simulated cluster with RBAC on appends the authorization tuples of
 * its mapped tokens to test-results/sim-auth-log/ (REMEDIATOR_SIM_AUTH_LOG_DIR, inherited by the
 * test processes), emptied at the start of each run. `npm test` then runs
 * test/after-suite/rbac-grants.test.ts, which compares what the whole suite used with the shipped
 * ClusterRole.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AUTH_LOG_DIR_ENV } from '../../src/sim/rbac.js';

export const SIM_AUTH_LOG_DIR = fileURLToPath(new URL('../../test-results/sim-auth-log/', import.meta.url));

export default function setup(): void {
  rmSync(SIM_AUTH_LOG_DIR, { recursive: true, force: true });
  mkdirSync(SIM_AUTH_LOG_DIR, { recursive: true });
  process.env[AUTH_LOG_DIR_ENV] = SIM_AUTH_LOG_DIR;
}
