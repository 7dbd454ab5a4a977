import { STATUS_CODES } from 'node:http';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { PermanentError, RetryableError } from '../domain/errors.js';
import type { NotificationConfig } from '../config/loaded-config.js';
import { channelLabel, readChannelSecret, readChannelUrl } from './channel-secrets.js';
import type { NotificationInput } from './run-summary.js';
import { slackMessage } from './slack-message.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signBody, webhookBody } from './webhook-message.js';

export interface SendOptions {
  /** Identifies the notification across its attempts (the job id). */
  deliveryId: string;
  /** Aborts the request (the worker is shutting down). */
  signal?: AbortSignal;
}

/**
 * One delivery attempt to one channel over axios. The URL and secret are read at every send.
 * Outcomes: resolves on 2xx; RetryableError on 429, 5xx, no answer within the channel's
 * `timeoutSeconds`, or a transport error; PermanentError on any other status (redirects are not
 * followed). Retries are the queue's business, not this class's. Errors say which channel and what
 * happened, and never carry the URL, the secret or axios's error (whose config holds both).
 */
export class ChannelSender {
  private readonly http: AxiosInstance;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {
    this.http = axios.create({
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      // The answer is only looked at for a short error code; a huge page is not worth reading.
      maxContentLength: 1024 * 1024,
    });
  }

  async send(channel: NotificationConfig, input: NotificationInput, opts: SendOptions): Promise<void> {
    const label = channelLabel(channel);
    const url = readChannelUrl(channel, this.env);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', [EVENT_HEADER]: input.event };
    let body: Buffer;
    if (channel.type === 'slack') {
      body = Buffer.from(JSON.stringify(slackMessage(input)), 'utf8');
    } else {
      body = Buffer.from(JSON.stringify(webhookBody(input)), 'utf8');
      headers[SIGNATURE_HEADER] = signBody(readChannelSecret(channel, this.env), body);
      headers[DELIVERY_HEADER] = opts.deliveryId;
    }

    const timeoutMs = channel.timeoutSeconds * 1000;
    // axios's `timeout` is an idle timer; a hard deadline also covers a server that trickles bytes.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
    let response: AxiosResponse<string>;
    try {
      response = await this.http.post<string>(url, body, { headers, timeout: timeoutMs, signal });
    } catch (err) {
      if (opts.signal?.aborted) throw new RetryableError(`${label}: aborted (shutting down)`);
      throw new RetryableError(`${label}: ${transportProblem(err, deadline.signal.aborted, channel.timeoutSeconds)}`);
    } finally {
      clearTimeout(timer);
    }

    const status = response.status;
    if (status >= 200 && status < 300) return;
    const problem = `${label}: ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + errorCode(response.data);
    if (status === 429 || status >= 500) throw new RetryableError(problem);
    if (status >= 300 && status < 400) throw new PermanentError(`${problem} (redirects are not followed)`);
    throw new PermanentError(problem);
  }
}

/**
 * Slack answers errors with a short code (`invalid_payload`, `no_service`); that much of a body
 * is worth showing. Anything longer may echo the request path, and the path can be the secret.
 */
function errorCode(body: unknown): string {
  const text = typeof body === 'string' ? body.trim() : '';
  return /^[a-z][a-z_]{2,59}$/.test(text) ? `: ${text}` : '';
}

function transportProblem(err: unknown, deadlinePassed: boolean, timeoutSeconds: number): string {
  const code = (err as { code?: unknown }).code;
  if (deadlinePassed || code === 'ECONNABORTED' || code === 'ETIMEDOUT') return `no answer within ${timeoutSeconds}s`;
  // Only the code: messages of DNS and TLS errors name the host, and the host is part of the URL.
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? `unreachable (${code})` : 'unreachable';
}
