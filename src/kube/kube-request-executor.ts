import * as k8s from '@kubernetes/client-node';
import { KubeApiError } from '../domain/errors.js';
import { toKubeApiError } from './to-kube-api-error.js';

export type KubeVerb = 'get' | 'list' | 'create' | 'patch' | 'delete' | 'update';

/**
 * Told about every Kubernetes API request once it has an outcome: `code` is the HTTP status,
 * or 0 when no answer arrived (network error, timeout, local failure).
 */
export type KubeRequestObserver = (verb: string, resource: string, code: number) => void;

export interface KubeRequestExecutorOptions {
  requestTimeoutMs: number;
  observe?: KubeRequestObserver;
  /** Names this process in the API server's audit log (which replica sent a request). */
  userAgent?: string;
}

export interface KubeRequestOptions {
  /** Patch content type; client-node would otherwise send `application/json-patch+json`. */
  contentType?: string;
}

/** Sends one client-node call; receives the per-call options it must pass through. */
export type KubeSend<T> = (options: k8s.ConfigurationOptions) => Promise<k8s.HttpInfo<T>>;

function requestMiddleware(signal: AbortSignal, userAgent: string | undefined): k8s.ObservableMiddleware {
  return {
    pre: (request) => {
      request.setSignal(signal);
      if (userAgent) request.setHeaderParam('User-Agent', userAgent);
      return new k8s.Observable(Promise.resolve(request));
    },
    post: (response) => new k8s.Observable(Promise.resolve(response)),
  };
}

/**
 * The one place every Kubernetes request goes through: bounds it with a timeout, reports it to
 * the observer (metrics count every call, failures and retries included) and maps failures to
 * domain errors.
 */
export class KubeRequestExecutor {
  private readonly requestTimeoutMs: number;
  private readonly observe: KubeRequestObserver | undefined;
  private readonly userAgent: string | undefined;

  constructor(options: KubeRequestExecutorOptions) {
    this.userAgent = options.userAgent;
    if (!(options.requestTimeoutMs > 0)) throw new RangeError(`requestTimeoutMs must be > 0, got ${options.requestTimeoutMs}`);
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.observe = options.observe;
  }

  async run<T>(verb: KubeVerb, resource: string, send: KubeSend<T>, options: KubeRequestOptions = {}): Promise<T> {
    const controller = new AbortController();
    const middleware: k8s.ObservableMiddleware[] = [requestMiddleware(controller.signal, this.userAgent)];
    const callOptions: k8s.ConfigurationOptions = options.contentType
      ? k8s.setHeaderOptions('Content-Type', options.contentType, { middleware, middlewareMergeStrategy: 'append' })
      : { middleware, middlewareMergeStrategy: 'append' };

    let timer: NodeJS.Timeout | undefined;
    // The race also bounds the time spent before the socket is opened (exec credential plugins),
    // which the abort signal alone cannot interrupt.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new KubeApiError(0, 'Timeout', `no answer within ${this.requestTimeoutMs} ms`, verb, resource));
      }, this.requestTimeoutMs);
    });
    try {
      const info = await Promise.race([send(callOptions), timeout]);
      this.report(verb, resource, info.httpStatusCode);
      return info.data;
    } catch (err) {
      const mapped = toKubeApiError(err, verb, resource);
      this.report(verb, resource, mapped instanceof KubeApiError ? mapped.code : 0);
      throw mapped;
    } finally {
      clearTimeout(timer);
    }
  }

  private report(verb: string, resource: string, code: number): void {
    if (!this.observe) return;
    try {
      this.observe(verb, resource, code);
    } catch {
      // Metrics must never decide whether a remediation succeeds.
    }
  }
}
