import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConnectionConfig, TlsFilesConfig } from '../config/loaded-config.js';

/**
 * What a connection is for.
 * - `command`: fails fast while Redis is unreachable (no offline queue, one retry, 1.5 s per
 *   command), so the webhook can answer 503 within its 2 s budget instead of hanging.
 * - `blocking`: BullMQ's workers; they wait out an outage (maxRetriesPerRequest null) and
 *   carry on on their own once Redis, or the primary a failover elected, is back.
 */
export type RedisPurpose = 'command' | 'blocking';

/** Longest a command may take on a `command` connection; WAIT's timeout stays below it. */
export const COMMAND_TIMEOUT_MS = 1500;

function purposeOptions(purpose: RedisPurpose): RedisOptions {
  return purpose === 'command'
    ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, commandTimeout: COMMAND_TIMEOUT_MS, retryStrategy: (times) => Math.min(200 * times, 2000) }
    : { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(200 * times, 2000) };
}

function tlsOptions(tls: TlsFilesConfig): TlsOptions {
  return {
    rejectUnauthorized: !tls.insecureSkipVerify,
    ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
    ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
    ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
  };
}

function readPassword(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new Error(`cannot read the Redis password file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

/**
 * One client for the configured topology: a single Redis, a Sentinel-managed primary (the client
 * asks the sentinels where it is and follows a failover) or a Redis Cluster.
 *
 * A Cluster client answers the same command API as a single-node client (commands, pipelines,
 * MULTI, defineCommand, events), so it is handed out as `Redis` and the modules stay topology-blind.
 * That holds because every key lives under one `{prefix}` hash tag and every script declares its keys
 * (src/redis/declared-keys-lua.ts), so a Cluster routes each call, pipeline and script to the one node
 * that owns the slot.
 */
export function createRedisClient(config: RedisConnectionConfig, purpose: RedisPurpose, connectionName: string): Redis {
  const base: RedisOptions = { ...purposeOptions(purpose), connectionName };
  switch (config.mode) {
    case 'standalone':
      return new Redis(config.url, base);
    case 'sentinel': {
      const password = readPassword(config.passwordFile);
      const sentinelPassword = readPassword(config.sentinelPasswordFile);
      const tls = config.tls ? tlsOptions(config.tls) : undefined;
      return new Redis({
        ...base,
        name: config.name,
        sentinels: config.sentinels.map(hostPort),
        role: 'master',
        // Not ioredis's failoverDetector: its +switch-master handler, firing while the client is
        // still reconnecting after the primary died, ends the client for good (status "end").
        // Reconnecting asks the sentinels again anyway, and a primary demoted without dying answers
        // READONLY, which reconnects (the refused command itself fails: the webhook answers 503).
        reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
        sentinelRetryStrategy: (times) => Math.min(200 * times, 2000),
        ...(password !== undefined ? { password } : {}),
        ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
        ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      });
    }
    case 'cluster': {
      const password = readPassword(config.passwordFile);
      const { enableOfflineQueue, ...nodeOptions } = base;
      const options: ClusterOptions = {
        redisOptions: {
          ...nodeOptions,
          ...(password !== undefined ? { password } : {}),
          ...(config.tls ? { tls: tlsOptions(config.tls) } : {}),
        },
        scaleReads: 'master',
        clusterRetryStrategy: (times) => Math.min(200 * times, 2000),
        ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      };
      return new Cluster(config.nodes.map(hostPort), options) as unknown as Redis;
    }
  }
}

/** For logs and the start-up banner: where Redis is, never a password. */
export function describeRedis(config: RedisConnectionConfig): string {
  switch (config.mode) {
    case 'standalone': {
      try {
        const url = new URL(config.url);
        if (url.password) url.password = '***';
        return url.toString();
      } catch {
        return 'redis (unparseable URL)';
      }
    }
    case 'sentinel':
      return `sentinel ${config.name} via ${config.sentinels.join(',')}`;
    case 'cluster':
      return `cluster via ${config.nodes.join(',')}`;
  }
}
