import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the receiver does with the n-th request (1-based) to a path: answer a status, or never answer. */
export type Reply = number | 'hang';

export interface ReceivedRequest {
  path: string;
  /** 1-based, per path. */
  n: number;
  at: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  json: unknown;
  reply: Reply;
  /** For paths with a secret: whether `X-Remediator-Signature` is the HMAC of the exact body bytes. */
  signatureValid?: boolean;
}

/**
 * A local HTTP endpoint standing in for Slack and webhook receivers. Each path answers as
 * scripted (default 200), records every request, and checks signatures for paths given a secret.
 * `close()` destroys open sockets, hanging ones included, so a test never waits for them.
 */
export class NotificationReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly plans = new Map<string, (n: number) => Reply>();
  private readonly secrets = new Map<string, string>();
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private server!: Server;
  private port = 0;

  static async start(): Promise<NotificationReceiver> {
    const receiver = new NotificationReceiver();
    receiver.server = createServer((req, res) => receiver.handle(req, res));
    receiver.server.on('connection', (socket) => {
      receiver.sockets.add(socket);
      socket.on('close', () => receiver.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    const address = receiver.server.address();
    if (!address || typeof address === 'string') throw new Error('receiver has no port');
    receiver.port = address.port;
    return receiver;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** How the path answers its n-th request; a list is played in order, its last entry repeating. */
  script(path: string, plan: Reply[] | ((n: number) => Reply)): void {
    this.plans.set(path, Array.isArray(plan) ? (n) => plan[Math.min(n, plan.length) - 1] ?? 200 : plan);
  }

  expectSignature(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  received(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Requests being held open right now. */
  get hangingCount(): number {
    return this.hanging.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks);
      const n = this.received(path).length + 1;
      const reply = this.plans.get(path)?.(n) ?? 200;
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
      const secret = this.secrets.get(path);
      const record: ReceivedRequest = { path, n, at: Date.now(), headers: req.headers, body, json, reply };
      if (secret !== undefined) record.signatureValid = validSignature(secret, body, req.headers['x-remediator-signature']);
      this.requests.push(record);
      if (reply === 'hang') {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      // Like Express's default 404 page, an error body may echo the path (which can be the secret).
      res.writeHead(reply, { 'content-type': 'text/plain' }).end(reply >= 400 ? `Cannot POST ${path}` : 'ok');
    });
  }
}

function validSignature(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
