import type { Redis } from 'ioredis';
import { declaredKeysScript } from '../redis/declared-keys-lua.js';

const RENEW = declaredKeysScript(`
if call('GET', KEYS[1]) == ARGV[1] then return call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

const RELEASE = declaredKeysScript(`
if call('GET', KEYS[1]) == ARGV[1] then return call('DEL', KEYS[1]) end
return 0
`);

type ScriptCaller = (...args: string[]) => Promise<unknown>;

/**
 * Elects one sealer across processes. Only an efficiency measure: correctness of the chain comes
 * from the compare-on-head commit, so a sealer that lost the lock without noticing cannot fork it.
 */
export class SealerLock {
  private readonly renewCmd: ScriptCaller;
  private readonly releaseCmd: ScriptCaller;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly instanceId: string,
    private readonly ttlMs: number,
  ) {
    redis.defineCommand('remediatorAuditLockRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('remediatorAuditLockRelease', { numberOfKeys: 1, lua: RELEASE });
    const commands = redis as unknown as Record<string, ScriptCaller>;
    this.renewCmd = commands.remediatorAuditLockRenew!.bind(redis);
    this.releaseCmd = commands.remediatorAuditLockRelease!.bind(redis);
  }

  /** Takes the lock or extends it if already ours; false while another instance holds it. */
  async hold(): Promise<boolean> {
    const renewed = await this.renewCmd(this.key, this.instanceId, String(this.ttlMs));
    if (renewed === 1) return true;
    const set = await this.redis.set(this.key, this.instanceId, 'PX', this.ttlMs, 'NX');
    return set === 'OK';
  }

  async release(): Promise<void> {
    await this.releaseCmd(this.key, this.instanceId);
  }
}
