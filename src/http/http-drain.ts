import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Graceful shutdown of the HTTP side. From `begin()`:
 * - requests already being handled finish, but their answers carry `Connection: close`, so a
 *   keep-alive client opens its next request elsewhere;
 * - new requests (also on a kept-alive connection) get `503` with `Connection: close` and
 *   `Retry-After` from `shuttingDown()` (createApp), rather than a refused connection: Alertmanager
 *   retries either way, but a 503 says why, and `/readyz` failing takes the pod out of its Service;
 * - `settle(deadline)` waits for the requests in flight, `close()` stops listening and drops
 *   whatever is left.
 */
export class HttpDrain {
  private draining = false;
  private readonly inFlight = new Set<ServerResponse>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly server: Server) {
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.inFlight.add(res);
      if (this.draining) res.shouldKeepAlive = false;
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.inFlight.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    });
  }

  /** True from `begin()` on: createApp answers new requests 503. */
  readonly shuttingDown = (): boolean => this.draining;

  /** How many requests are being handled now. */
  get active(): number {
    return this.inFlight.size;
  }

  begin(): void {
    this.draining = true;
    // An answer not yet started goes out with `Connection: close`. Idle keep-alive connections
    // stay open until close(): closing one races with a client sending on it, which then sees a
    // reset instead of the 503 that tells it to go elsewhere.
    for (const res of this.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
  }

  /** Resolves when no request is in flight, or at `deadline` (epoch ms); says which. */
  async settle(deadline: number): Promise<'settled' | 'deadline'> {
    if (this.inFlight.size === 0) return 'settled';
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<'settled'>((resolve) => this.idleWaiters.push(() => resolve('settled')));
    const late = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), Math.max(0, deadline - Date.now()))));
    try {
      return await Promise.race([idle, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops listening and closes every connection left; resolves once the server is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
