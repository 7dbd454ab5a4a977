/**
 * Every key lives under one `{prefix}` hash tag so a Redis Cluster keeps them in one slot
 * (Lua scripts touch several at once) and installs can share a Redis.
 */
export class RedisKeys {
  readonly tag: string;
  constructor(readonly prefix: string) {
    this.tag = `{${prefix}}`;
  }
  run(id: string): string {
    return `${this.tag}:run:${id}`;
  }
  get runs(): string {
    return `${this.tag}:runs`;
  }
  episode(ep: string): string {
    return `${this.tag}:ep:${ep}`;
  }
  episodeResolved(ep: string): string {
    return `${this.tag}:epres:${ep}`;
  }
  /** The target a worker resolved for an alert-derived one (a pod's owning workload). */
  resolvedTarget(target: string): string {
    return `${this.tag}:tgtmap:${target}`;
  }
  /** The episode's blocks: a hash guard → the blocked run, so each guard is recorded once per episode. */
  episodeBlocked(ep: string): string {
    return `${this.tag}:epblk:${ep}`;
  }
  /** Per playbook and target: restarting a pod of a Deployment does not hold back scaling it. */
  cooldown(playbook: string, target: string): string {
    return `${this.tag}:cooldown:${playbook}:${target}`;
  }
  /** A rule's runs in the last hour (`maxRunsPerHour`). */
  rate(rule: string): string {
    return `${this.tag}:rate:${rule}`;
  }
  /** BullMQ's job hash of a run (queue `jobs`, job id = run id). */
  job(runId: string): string {
    return `${this.tag}:jobs:${runId}`;
  }
  /** Written before WAIT (`redis.minReplicasAcked`), so WAIT covers what this connection read as well as wrote. */
  get replicationFence(): string {
    return `${this.tag}:fence`;
  }
  lock(target: string): string {
    return `${this.tag}:lock:${target}`;
  }
  get nodeBudget(): string {
    return `${this.tag}:budget:nodes`;
  }
  get pause(): string {
    return `${this.tag}:pause`;
  }
  /** Runs waiting for a second operator, by creation time (for expiry). */
  get awaiting(): string {
    return `${this.tag}:awaiting`;
  }

  /** Runs created and not known to be terminal yet (runId → created ms): what the sweeper walks. */
  /** A target held after an escalation of this rule (value: the escalated run); until an operator acks. */
  held(rule: string, target: string): string {
    return `${this.tag}:held:${rule}:${target}`;
  }
  /** The rule's succeeded runs on one target, scored by when they ended (for `afterRepeats`). */
  repeats(rule: string, target: string): string {
    return `${this.tag}:repeats:${rule}:${target}`;
  }
  /** Set once a run has escalated, so it never escalates twice. */
  escalatedRun(runId: string): string {
    return `${this.tag}:escalated:${runId}`;
  }
  /** Runs whose verification is pending, scored by its deadline (ms). */
  get verifying(): string {
    return `${this.tag}:verifying`;
  }
  get live(): string {
    return `${this.tag}:live`;
  }

  /** Running runs the sweeper saw without a worker holding their job (runId → first seen ms). */
  get stranded(): string {
    return `${this.tag}:stranded`;
  }
  /** Cluster-wide concurrency slots: run id -> last heartbeat (ms). */
  get slots(): string {
    return `${this.tag}:slots`;
  }
  /** An operator asked a running run to stop between steps. */
  cancel(runId: string): string {
    return `${this.tag}:cancel:${runId}`;
  }
  /** The alert inbox index: episode -> first seen (ms); see `inboxRecord`. */
  get inbox(): string {
    return `${this.tag}:inbox`;
  }
  /** One episode seen by the webhook (a hash; written by the intake script, see intake-script.ts). */
  inboxRecord(ep: string): string {
    return `${this.tag}:inbox:${ep}`;
  }
  get audit(): string {
    return `${this.tag}:audit`;
  }
  /** BullMQ's own prefix: its keys become `{prefix}:<queue>:...`, inside the same hash tag. */
  get bullPrefix(): string {
    return this.tag;
  }
}
