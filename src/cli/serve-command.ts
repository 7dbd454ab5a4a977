import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load-config.js';
import { assertServeReady } from '../config/assert-serve-ready.js';
import { startRemediator, playbookMap, type Role } from '../composition-root.js';
import { createLogger } from '../observability/logger.js';
import { playbooks } from '../../playbooks/index.js';
import { PermanentError } from '../domain/errors.js';
import { shutdownBudgetMs } from '../engine/shutdown-plan.js';

/** Reads the HMAC key; refuses an empty or unreadable file rather than sealing with nothing. */
export function readAuditKey(path: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    throw new PermanentError(`cannot read audit.keyFile ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (key.toString('utf8').trim().length < 16) throw new PermanentError(`audit.keyFile ${path} must hold at least 16 bytes of key material`);
  return key;
}

export async function serveCommand(opts: { config?: string; role: Role }, logger: Logger = createLogger()): Promise<void> {
  const loadOpts: Parameters<typeof loadConfig>[0] = { playbooks: playbookMap(playbooks) };
  if (opts.config) loadOpts.path = opts.config;
  const config = loadConfig(loadOpts);
  assertServeReady(config);
  const auditKey = readAuditKey(config.audit.keyFile!);
  const remediator = await startRemediator({ config, role: opts.role, auditKey, logger });
  const shutdown = (signal: string) => {
    logger.info({ signal, graceSeconds: config.server.shutdownGraceSeconds }, 'shutting down');
    // stop() keeps to the grace period by construction; this is the backstop should anything hang.
    setTimeout(() => {
      logger.error({ signal }, 'shutdown did not finish within server.shutdownGraceSeconds; exiting anyway');
      logger.flush();
      process.exit(1);
    }, shutdownBudgetMs(config.server.shutdownGraceSeconds * 1000)).unref();
    remediator.stop().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
