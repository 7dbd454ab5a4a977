/**
 * The playbook-level opt-out precondition (`guards.optOutLabel`, `ctx.optOutLabel`): "true" on a
 * node, workload, pod or namespace means remediator never touches it. The engine re-checks the
 * target before the first mutation as well; playbooks refuse early, with a reason naming the
 * label and the object that carries it.
 */

export function optedOut(labels: Record<string, string> | undefined, label: string): boolean {
  return labels?.[label] === 'true';
}

/** `remediator.dev/disabled=true on namespace ml-serving`. */
export function optOutNote(label: string, where: string): string {
  return `${label}=true on ${where}`;
}

/** The first of `sources` (object description, its labels) that is opted out, as a note. */
export function firstOptOut(label: string, sources: readonly { what: string; labels: Record<string, string> | undefined }[]): string | undefined {
  const hit = sources.find((s) => optedOut(s.labels, label));
  return hit === undefined ? undefined : optOutNote(label, hit.what);
}
