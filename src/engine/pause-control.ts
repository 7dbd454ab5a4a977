import type { Redis } from 'ioredis';
import type { Metrics } from '../observability/metrics.js';
import type { AnyPlaybook } from './playbook.js';
import type { RedisKeys } from './redis-keys.js';
import { ValidationError } from '../domain/errors.js';
import { requireReason, type Operator } from './operator.js';

export interface PauseControlDeps {
  redis: Redis;
  keys: RedisKeys;
  playbooks: ReadonlyMap<string, AnyPlaybook>;
  metrics: Metrics;
  audit: { logWritten(entries: object[]): void };
  now?: () => number;
}

/**
 * Pause and resume automation, globally or per playbook (admin). The state lives in Redis with
 * who paused and why; intake and every run's pre-mutation check read it. Audited with the reason.
 */
export class PauseControl {
  private readonly now: () => number;
  constructor(private readonly deps: PauseControlDeps) {
    this.now = deps.now ?? Date.now;
  }

  async pause(operator: Operator, reason: string, playbook?: string): Promise<{ paused: string[] }> {
    requireReason(reason);
    const scope = this.scope(playbook);
    const at = new Date(this.now()).toISOString();
    const entry = { type: 'operator_action', at, actor: operator.name, action: 'pause', reason, scope: playbook ?? 'global', ...(playbook ? { playbook } : {}) };
    await this.deps.redis.multi().hset(this.deps.keys.pause, scope, JSON.stringify({ reason, by: operator.name, at })).xadd(this.deps.keys.audit, '*', 'e', JSON.stringify(entry)).exec();
    this.deps.audit.logWritten([entry]);
    this.deps.metrics.paused.set({ scope: playbook ?? 'global' }, 1);
    return { paused: await this.pausedScopes() };
  }

  async resume(operator: Operator, reason: string, playbook?: string): Promise<{ paused: string[] }> {
    requireReason(reason);
    const scope = this.scope(playbook);
    const at = new Date(this.now()).toISOString();
    const entry = { type: 'operator_action', at, actor: operator.name, action: 'resume', reason, scope: playbook ?? 'global', ...(playbook ? { playbook } : {}) };
    await this.deps.redis.multi().hdel(this.deps.keys.pause, scope).xadd(this.deps.keys.audit, '*', 'e', JSON.stringify(entry)).exec();
    this.deps.audit.logWritten([entry]);
    this.deps.metrics.paused.set({ scope: playbook ?? 'global' }, 0);
    return { paused: await this.pausedScopes() };
  }

  /** `global` and/or playbook names, with who paused and why. */
  async pauseState(): Promise<Record<string, { reason: string; by: string; at: string }>> {
    const raw = await this.deps.redis.hgetall(this.deps.keys.pause);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.replace(/^playbook:/, ''), JSON.parse(v) as { reason: string; by: string; at: string }]));
  }

  private scope(playbook: string | undefined): string {
    if (playbook === undefined) return 'global';
    if (!this.deps.playbooks.has(playbook)) throw new ValidationError('invalid pause request', [{ path: 'playbook', message: `unknown playbook "${playbook}"` }]);
    return `playbook:${playbook}`;
  }

  private async pausedScopes(): Promise<string[]> {
    return (await this.deps.redis.hkeys(this.deps.keys.pause)).map((k) => k.replace(/^playbook:/, ''));
  }
}
