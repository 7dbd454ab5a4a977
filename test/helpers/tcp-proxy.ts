/**
 * A loopback TCP proxy for tests that need to break a client's connections (to Redis, to the
 * sim) without stopping the server behind it: the server keeps its state, the client sees its
 * sockets die and, for a while, its reconnects fail.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` style URL: url(scheme = 'redis'). */
  url(scheme?: string): string;
  /** Number of client connections currently open through the proxy. */
  connections(): number;
  /**
   * Destroys every open client connection (and its upstream); with refuseMs, new connections
   * are refused (accepted then destroyed at once) for that long. Resolves when the sockets are
   * destroyed.
   */
  cut(opts?: { refuseMs?: number }): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

function closed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Proxies 127.0.0.1:<free port> to `target`, byte for byte. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let refuseUntil = 0;

  const server = createServer((client) => {
    if (Date.now() < refuseUntil) {
      // A listening socket cannot refuse selectively; accepting and dropping at once looks the
      // same to a client (its connect succeeds or fails, then the stream dies before any reply).
      client.on('error', () => {});
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    // Either side going away takes the other with it, as a real broken path would.
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
    client.on('close', () => pairs.delete(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp proxy: could not determine its port');
  const { port } = address;

  let closing: Promise<void> | undefined;
  const destroyAll = async (): Promise<void> => {
    const sockets = [...pairs].flatMap((p) => [p.client, p.upstream]);
    for (const s of sockets) s.destroy();
    await Promise.all(sockets.map(closed));
  };

  return {
    port,
    url: (scheme = 'redis') => `${scheme}://127.0.0.1:${port}`,
    connections: () => [...pairs].filter((p) => !p.client.destroyed).length,
    async cut(opts = {}) {
      // Set before destroying so a client that reconnects at once already meets the refusal.
      if (opts.refuseMs !== undefined && opts.refuseMs > 0) refuseUntil = Date.now() + opts.refuseMs;
      await destroyAll();
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
        await destroyAll();
        await stopped;
      })();
      return closing;
    },
  };
}
