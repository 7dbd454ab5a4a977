import { z } from 'zod';
import type { AnyPlaybook } from '../engine/playbook.js';
import { DEFAULT_ALERT_LABELS_READ, PLAYBOOK_TARGET_KINDS } from './alert-param-keys.js';
import { typeText } from './config-reference.js';

/*
 * docs/playbooks.md, generated from the registered playbooks (playbooks/index.ts): each one's
 * description, destructive flag, params (from its zod schema as JSON Schema: type, default,
 * description, and the alert labels that feed it), the labels it reads and its target. What it
 * does on the cluster and its health check are prose kept in NOTES below; a registered playbook
 * without notes makes the generator throw.
 *
 * Regenerate: node --import tsx scripts/gen-reference-docs.ts
 * test/unit/docs/generated-docs.test.ts fails while docs/playbooks.md differs from this.
 */

type Json = Record<string, any>;

interface PlaybookNotes {
  /** What the target is, in words. */
  target: string;
  /** What it does, step by step, and when it is skipped. */
  does: string;
  /** Its built-in health check. */
  health: string;
  /** The reasons of the Kubernetes Events it records. */
  events: string[];
}

const NOTES: Record<string, PlaybookNotes> = {
  'scale-replicas': {
    target: 'the workload: `deployment/NAMESPACE/NAME` or `statefulset/NAMESPACE/NAME`',
    does:
      'From an alert: `namespace`, and `deployment` (kind Deployment) or `statefulset` (kind StatefulSet). Reads the scale subresource and clamps the new count (`replicas`, or the current count plus `step`) to [`minReplicas`, `maxReplicas`]; a noop when the workload is already there. Patches `spec.replicas` with a resourceVersion precondition; on a 409 it re-reads and never moves against the intended direction (a scale-up that finds replicas at or above the target is done). `skipped` when a HorizontalPodAutoscaler targets the workload (a cluster without `autoscaling/v2` has none).',
    health:
      'Waits (`waitForReadySeconds`) until the controller observed the change and the new count is available (scale-down: the surplus pods gone; Deployments: updated too).',
    events: ['RemediationScale'],
  },
  'restart-oom-pod': {
    target: 'the pod\'s owning workload (a ReplicaSet resolved to its Deployment), so one restart per workload runs at a time; `pod/NAMESPACE/NAME` when no owner can be resolved',
    does:
      '`skipped` unless a container\'s last or current termination reason is `OOMKilled` (with `requireOOMKilled`), and for pods without a controller unless `allowUnmanaged`. Evicts the pod through the Eviction API (PodDisruptionBudgets honoured) or deletes it (`method: delete`), with a `uid` precondition so a replacement of the same name is never hit.',
    health: 'Waits (`waitForReadySeconds`) for the owner\'s Ready replacement pod.',
    events: ['RemediationRestart'],
  },
  'drain-gpu-node': {
    target: 'the node: `node/NAME`',
    does:
      '`kubectl drain` semantics. Claims the node budget (`guards.maxUnschedulableNodes`), cordons the node and stamps it in one patch, lists its pods, skips DaemonSet and mirror pods; if an unmanaged pod (without `force`), an emptyDir pod (without `deleteEmptyDirData`) or an opted-out pod is present it fails before evicting anything (the node stays cordoned). Evicts through the Eviction API in parallel (up to 32 requests at once); a pod a PodDisruptionBudget refuses (429) is sent again as soon as the budget the refusal names allows a disruption (its `status.disruptionsAllowed`, read every 100 ms; one pod per disruption allowed, each at most twice a second), and at least every 5 s as kubectl does (only that, for a budget it cannot read), until `timeoutSeconds`; then it waits until the pods are gone. `skipped` for an opted-out node, and for a node without allocatable `nvidia.com/gpu` when `requireGpu`. `taint` is added read-modify-write; `NoExecute` is refused (it bypasses PDBs).',
    health: 'Waits (same `timeoutSeconds`) until each evicted pod\'s Deployment or StatefulSet is back at its desired available count, on other nodes.',
    events: ['RemediationCordon', 'RemediationEvict', 'RemediationDrain', 'RemediationBlocked'],
  },
  'uncordon-node': {
    target: 'the node: `node/NAME`',
    does:
      'Undoes a drain once the node has recovered (by hand, or from a rule on a recovery alert): removes the `remediator.dev/` taints (or those with `taintKey`) and uncordons a node this service cordoned (it reads the node\'s `remediator.dev/last-action` annotation); it skips (leaves as it is) a node a human or another tool cordoned unless `force`, and an opted-out node. Frees the node\'s claim on the node budget.',
    health: 'None to wait for: the node is schedulable once the patch is applied.',
    events: ['RemediationUncordon'],
  },
  'raise-memory-limit': {
    target: 'the workload (`deployment/…` or `statefulset/…`); named by `name`, or resolved from `pod` as restart-oom-pod does',
    does:
      'Raises the container\'s memory limit in the pod template by `factor`, rounded up to whole Mi, capped at `maxLimit`; raises the request only when it would exceed the new limit (then equal to it). `skipped` at the cap and when the container has no memory limit (nothing to raise). One strategic-merge patch with a resourceVersion precondition; a 409 is retried toward the recorded limit, never raising twice. The usual escalation for an OOM loop.',
    health: 'Waits (`timeoutSeconds`) for the rollout: the controller observed the new generation and every replica is updated and available.',
    events: ['RemediationMemoryLimit'],
  },
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function defaultText(s: Json): string {
  return 'default' in s ? `\`${typeof s.default === 'string' ? s.default : JSON.stringify(s.default)}\`` : '';
}

function paramRows(schema: Json, prefix: string, required: ReadonlySet<string>, fromLabels: Readonly<Record<string, readonly string[]>>, out: string[]): void {
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
    const name = `${prefix}${key}`;
    const labels = prefix === '' ? (fromLabels[key] ?? []) : [];
    const type = `${typeText(child)}${required.has(key) ? ' *(required)*' : ''}`;
    out.push(`| \`${name}\` | ${cell(type)} | ${cell(defaultText(child))} | ${labels.map((l) => `\`${l}\``).join(', ')} | ${cell((child.description as string | undefined) ?? '')} |`);
    if (child.type === 'object' && child.properties) paramRows(child, `${name}.`, new Set((child.required as string[] | undefined) ?? []), {}, out);
  }
}

/** The whole of docs/playbooks.md for these playbooks (in registration order). */
export function playbookReference(playbooks: readonly AnyPlaybook[]): string {
  const lines: string[] = [
    '# Playbooks',
    '',
    '<!-- Generated from the registered playbooks (playbooks/index.ts) by src/config/playbook-reference.ts.',
    '     Do not edit: run `node --import tsx scripts/gen-reference-docs.ts`. -->',
    '',
    'A playbook is a typed remediation with a stable name: a params schema (served as JSON Schema by',
    '`GET /api/v1/playbooks`, listed by `remediator playbooks`), a mapping from alert labels to',
    'params, a target, a `destructive` flag, and its steps. Rules name a playbook and set params',
    '(`rules[].playbook`, `rules[].params`: merged over the params derived from the alert); operators',
    'run one by hand (`remediator run NAME -p key=value … --reason TEXT`, `POST /api/v1/runs`).',
    '',
    'Common to all of them:',
    '',
    '- **Exactly once.** Each step records its intent (object, before, intended after) on the run',
    '  *before* it sends the request; a retried attempt moves the object toward that recorded intent',
    '  and never past it, so an answer lost after the API server applied a change never doubles it.',
    '  Retryable: 409, 429, 5xx, timeouts. Permanent: 400, 403, 404 on the target, 422, validation.',
    '- **Outcomes.** `changed` and `noop` end the run `succeeded` (`changed: true|false`); `skipped` ends',
    '  it `skipped` with the reason; a permanent error, an exhausted retry or a health check that times',
    '  out ends it `failed` (the change stays: nothing is rolled back).',
    '- **Marks on the cluster.** Each mutation records a Kubernetes Event on the object (its',
    '  involvedObject carries apiVersion, kind, namespace, name and uid, so `kubectl describe` lists it;',
    '  `reportingComponent: remediator`; named after the run, so a retry never adds a second one) and',
    '  sets the annotation `remediator.dev/last-action` (JSON: playbook, runId, rule or operator, reason,',
    '  time) on the target.',
    '- **The stamp never comes after the action.** `scale-replicas` and `restart-oom-pod` write it just',
    '  before their request (the scale subresource and a pod\'s eviction cannot carry an annotation);',
    '  `raise-memory-limit` sets it in its template patch and `drain-gpu-node` in its cordon patch. An',
    '  attempt stopped right after its action (process killed, Redis wiped, lock lost) has therefore',
    '  left it, and the cooldown it carries holds even when Redis forgot the run. Like the Redis',
    '  cooldown, it counts from the decision to act: a run that stamps and then stands down (someone',
    '  scaled meanwhile, a PDB refuses) or is stopped before its request still holds its target for',
    '  the cooldown. Remediator errs toward not acting twice. (`uncordon-node` stamps after; repeating',
    '  an uncordon is a noop.)',
    '- **Dry run** (global `dryRun`, a rule\'s `dryRun`, or a manual run\'s `dryRun`): every mutation is',
    '  sent with `dryRun=All` (Events and annotations included), every wait is skipped, the exact plan is',
    '  recorded as the run\'s steps, and the run ends `succeeded` with `changed: false`.',
    '- **Health check.** After a real change every playbook waits, holding its target lock and its',
    '  concurrency slot, until the cluster shows the change worked, and records the verdict as the',
    '  run\'s `health` and a `health_check` audit entry. Dry runs and noops report none.',
    '- **Names from labels.** A label value becomes a param only when it is a valid Kubernetes name, so',
    '  a label can never steer a request elsewhere. An alert that lacks a label a required param needs',
    '  gets the decision `invalid_params`, naming the label.',
    '- **Destructive** playbooks need a second operator\'s approval for manual runs when',
    '  `guards.manualApproval` is `destructive` (or `all`).',
    '',
    '| playbook | destructive | target | description |',
    '|---|---|---|---|',
  ];
  for (const p of playbooks) {
    const notes = NOTES[p.name];
    if (!notes) throw new Error(`playbook ${p.name} has no notes: add it to NOTES in src/config/playbook-reference.ts`);
    lines.push(`| [\`${p.name}\`](#${p.name}) | ${p.destructive ? 'yes' : 'no'} | ${PLAYBOOK_TARGET_KINDS[p.name] ?? '?'} | ${cell(p.description)} |`);
  }
  lines.push('');
  for (const p of playbooks) {
    const notes = NOTES[p.name]!;
    const schema = z.toJSONSchema(p.paramsSchema, { io: 'input', unrepresentable: 'any' }) as Json;
    const labelsRead = DEFAULT_ALERT_LABELS_READ[p.name] ?? Object.values(p.paramLabels ?? {}).flat();
    lines.push(
      `## ${p.name}`,
      '',
      p.description,
      '',
      `- **Destructive:** ${p.destructive ? 'yes' : 'no'}`,
      `- **Target:** ${notes.target}`,
      `- **Alert labels it reads:** ${labelsRead.length > 0 ? labelsRead.map((l) => `\`${l}\``).join(', ') : 'none'}`,
      `- **Events:** ${notes.events.map((e) => `\`${e}\``).join(', ')}`,
      '',
      notes.does,
      '',
      `**Health check.** ${notes.health}`,
      '',
      '| param | type | default | from alert labels | description |',
      '|---|---|---|---|---|',
    );
    paramRows(schema, '', new Set((schema.required as string[] | undefined) ?? []), p.paramLabels ?? {}, lines);
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
