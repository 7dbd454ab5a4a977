import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../src/domain/errors.js';
import type { NotificationConfig } from '../../../src/config/loaded-config.js';
import { readChannelSecret, readChannelUrl } from '../../../src/notify/channel-secrets.js';

const SLACK_URL = 'https://hooks.slack.example/services/T000/B000/XXXXSECRETXXXX';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
}

describe('channel URL and secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'notify-secrets-'));

  it('reads url, urlFile (trailing newline trimmed) and urlEnv at every call', () => {
    const file = join(dir, 'slack-url');
    writeFileSync(file, `${SLACK_URL}\n`);
    const channel: NotificationConfig = { name: 'oncall-slack', type: 'slack', urlFile: file, timeoutSeconds: 10 };
    expect(readChannelUrl(channel, {})).toBe(SLACK_URL);
    writeFileSync(file, `${SLACK_URL}-rotated\n`);
    expect(readChannelUrl(channel, {})).toBe(`${SLACK_URL}-rotated`);
    expect(readChannelUrl({ name: 'a', type: 'slack', url: SLACK_URL, timeoutSeconds: 10 }, {})).toBe(SLACK_URL);
    expect(readChannelUrl({ name: 'a', type: 'slack', urlEnv: 'SLACK_URL', timeoutSeconds: 10 }, { SLACK_URL })).toBe(SLACK_URL);
  });

  it('an unreadable file is a retryable failure naming the file; a missing variable is permanent; neither names the URL', () => {
    const missing = join(dir, 'nope');
    const fileErr = thrown(() => readChannelUrl({ name: 'oncall-slack', type: 'slack', urlFile: missing, timeoutSeconds: 10 }, {}));
    expect(fileErr).toBeInstanceOf(RetryableError);
    expect(fileErr.message).toBe(`slack channel oncall-slack: cannot read urlFile ${missing} (ENOENT)`);
    const envErr = thrown(() => readChannelUrl({ name: 'oncall-slack', type: 'slack', urlEnv: 'SLACK_URL', timeoutSeconds: 10 }, {}));
    expect(envErr).toBeInstanceOf(PermanentError);
    expect(envErr.message).toBe('slack channel oncall-slack: environment variable SLACK_URL (urlEnv) is not set');
  });

  it('a value that is not an http(s) URL is refused without showing it', () => {
    const err = thrown(() => readChannelUrl({ name: 'hook', type: 'webhook', urlEnv: 'U', secretEnv: 'S', timeoutSeconds: 10 }, { U: 'ftp://secret-host/XXXXSECRET' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe('webhook channel hook: the environment variable U does not hold an http(s) URL');
  });

  it('the secret: only a trailing newline is removed; an empty one is refused', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, ' key with spaces \n');
    const channel: NotificationConfig = { name: 'hook', type: 'webhook', url: 'https://h.example/x', secretFile: file, timeoutSeconds: 10 };
    expect(readChannelSecret(channel, {})).toBe(' key with spaces ');
    expect(readChannelSecret({ ...channel, secretFile: undefined, secretEnv: 'HOOK_SECRET' } as NotificationConfig, { HOOK_SECRET: 'k\r\n' })).toBe('k');
    writeFileSync(file, '\n');
    expect(thrown(() => readChannelSecret(channel, {})).message).toBe(`webhook channel hook: the secretFile ${file} is empty`);
  });
});
