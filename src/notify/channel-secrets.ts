import { readFileSync } from 'node:fs';
import { PermanentError, RetryableError } from '../domain/errors.js';
import type { NotificationConfig } from '../config/loaded-config.js';

/** `slack channel oncall-slack`: how every message about a channel starts. */
export function channelLabel(channel: Pick<NotificationConfig, 'type' | 'name'>): string {
  return `${channel.type} channel ${channel.name}`;
}

/**
 * The channel's URL, read now (a rotated file or a changed setting is picked up at the next
 * send). Errors name the file or the variable, never the URL: a Slack webhook URL is a secret.
 */
export function readChannelUrl(channel: NotificationConfig, env: NodeJS.ProcessEnv): string {
  const raw = readSetting(channel, 'url', channel.url, channel.urlFile, channel.urlEnv, env).trim();
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new PermanentError(`${channelLabel(channel)}: the ${source(channel, 'url')} does not hold an http(s) URL`);
  }
  return raw;
}

/** The webhook's HMAC key, read now; only a trailing newline is removed. */
export function readChannelSecret(channel: NotificationConfig, env: NodeJS.ProcessEnv): string {
  const secret = readSetting(channel, 'secret', undefined, channel.secretFile, channel.secretEnv, env).replace(/\r?\n$/, '');
  if (secret === '') throw new PermanentError(`${channelLabel(channel)}: the ${source(channel, 'secret')} is empty`);
  return secret;
}

function readSetting(channel: NotificationConfig, what: 'url' | 'secret', inline: string | undefined, file: string | undefined, envName: string | undefined, env: NodeJS.ProcessEnv): string {
  if (inline !== undefined) return inline;
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      // A mounted secret can be missing for a moment while it is rotated: worth another attempt.
      throw new RetryableError(`${channelLabel(channel)}: cannot read ${what}File ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  if (envName !== undefined) {
    const value = env[envName];
    // The process's environment does not change: retrying cannot help.
    if (value === undefined || value === '') throw new PermanentError(`${channelLabel(channel)}: environment variable ${envName} (${what}Env) is not set`);
    return value;
  }
  throw new PermanentError(`${channelLabel(channel)}: no ${what} configured`);
}

/** Where the value came from, for messages: the setting, the file or the variable (never the value). */
function source(channel: NotificationConfig, what: 'url' | 'secret'): string {
  if (what === 'url' && channel.url !== undefined) return 'url setting';
  const file = what === 'url' ? channel.urlFile : channel.secretFile;
  if (file !== undefined) return `${what}File ${file}`;
  return `environment variable ${(what === 'url' ? channel.urlEnv : channel.secretEnv) ?? '?'}`;
}
