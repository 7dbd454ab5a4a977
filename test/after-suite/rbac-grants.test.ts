/**
 * After the whole suite (`npm test` runs this last, with vitest.after-suite.config.ts): the
 * (verb, group, resource/subresource) tuples the remediator-worker ServiceAccount was authorized
 * for in every simulated cluster with RBAC on (the RBAC test's every playbook real and dry, health
 * checks, guards, readiness; the end-to-end chain), compared with the shipped ClusterRole: nothing
 * refused, nothing granted that the suite never needed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SimAuthRecord } from '../../src/sim/index.js';
import { SIM_AUTH_LOG_DIR } from '../helpers/sim-auth-log.js';
import { granted, renderManifests, tuple, WORKER_USER } from '../helpers/rbac-grants.js';

describe('over the whole suite, the shipped ClusterRole is exactly what the worker used', () => {
  it('no request refused, every grant used', () => {
    expect(existsSync(SIM_AUTH_LOG_DIR), 'run the whole suite first (npm test)').toBe(true);
    const files = readdirSync(SIM_AUTH_LOG_DIR).filter((f) => f.endsWith('.ndjson'));
    const records = files.flatMap((f) =>
      readFileSync(join(SIM_AUTH_LOG_DIR, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as SimAuthRecord),
    );
    const worker = records.filter((r) => r.user === WORKER_USER);
    expect(worker.length, 'the suite ran no simulated cluster with RBAC on').toBeGreaterThan(0);
    expect(worker.filter((r) => !r.allowed).map((r) => `${tuple(r)} ${r.namespace ?? ''}`), 'refused').toEqual([]);
    const used = [...new Set(worker.filter((r) => r.path === undefined).map(tuple))].sort();
    const grants = granted(renderManifests());
    const paths = [...new Set(worker.filter((r) => r.path !== undefined).map((r) => `${r.verb} ${r.path}`))].sort();
    console.log(`rbac over the suite: ${files.length} test processes, ${worker.length} worker requests; ${used.length} resource tuples used, ${grants.length} granted; non-resource: ${paths.join(', ')}`);
    expect(used.filter((t) => !grants.includes(t)), 'used but not granted').toEqual([]);
    expect(grants.filter((t) => !used.includes(t)), 'granted but never used').toEqual([]);
  });
});
