/**
 * The shipped ClusterRole's grants as (verb, group, resource/subresource) tuples, shared by the
 * RBAC test and the after-suite check that compares them with what the whole suite used.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseRbacManifests } from '../../src/sim/rbac.js';

export const WORKER_USER = 'system:serviceaccount:remediator:remediator-worker';

/** `kubectl kustomize deploy/kubernetes`, with the preinstalled kubectl. */
export function renderManifests(): string {
  return execFileSync('kubectl', ['kustomize', 'deploy/kubernetes'], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
}

export function tuple(r: { verb: string; group: string; resource: string; subresource: string }): string {
  return `${r.verb} ${r.group === '' ? 'core' : r.group} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
}

/** Every (verb, group, resource) the ClusterRole grants, written like `tuple`. */
export function granted(manifests: string): string[] {
  const role = parseRbacManifests(manifests).roles.find((r) => r.kind === 'ClusterRole' && r.name === 'remediator');
  if (!role) throw new Error('no ClusterRole remediator in the rendered manifests');
  const out = new Set<string>();
  for (const rule of role.rules) {
    if (rule.resourceNames.length > 0) throw new Error('the ClusterRole uses resourceNames: compare them too');
    for (const group of rule.apiGroups) {
      for (const res of rule.resources) {
        for (const verb of rule.verbs) {
          const [resource = '', subresource = ''] = res.split('/');
          out.add(tuple({ verb, group, resource, subresource }));
        }
      }
    }
  }
  return [...out].sort();
}

