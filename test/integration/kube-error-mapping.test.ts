import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientNodeCluster } from '../../src/kube/client-node-cluster.js';
import { KubeApiError, PermanentError } from '../../src/domain/errors.js';

/**
 * Edge cases a well-behaved simulated cluster does not produce (hung server, refused
 * connection, 401 without body, non-JSON 5xx, expiring continue tokens), checked against a
 * bare node:http stub.
 */

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Stub {
  url: string;
  seen: { method: string; url: string }[];
  close(): Promise<void>;
}

const open: Stub[] = [];

async function startStub(handler: Handler): Promise<Stub> {
  const seen: { method: string; url: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '' });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stub: Stub = {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(stub);
  return stub;
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

function kubeConfigFor(url: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stub', server: url, skipTLSVerify: true }],
    users: [{ name: 'stub', token: 'stub-token' }],
    contexts: [{ name: 'stub', cluster: 'stub', user: 'stub' }],
    currentContext: 'stub',
  });
  return kc;
}

function clusterFor(url: string, requestTimeoutMs = 2000) {
  const observed: [string, string, number][] = [];
  const cluster = new ClientNodeCluster({
    kc: kubeConfigFor(url),
    requestTimeoutMs,
    observe: (verb, resource, code) => observed.push([verb, resource, code]),
  });
  return { cluster, observed };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((stub) => stub.close()));
});

describe('ClientNodeCluster error mapping (node:http stub)', () => {
  it('maps a 409 Status to a retryable KubeApiError and reports it', async () => {
    const stub = await startStub((_req, res) => json(res, 409, status(409, 'Conflict', 'the object has been modified')));
    const { cluster, observed } = clusterFor(stub.url);
    const err = await caught(cluster.patchScale('Deployment', 'ns', 'web', 3, '41', { dryRun: false }));
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 409, reason: 'Conflict', retryable: true, verb: 'patch', resource: 'deployments/scale' });
    expect((err as Error).message).toContain('the object has been modified');
    expect(observed).toEqual([['patch', 'deployments/scale', 409]]);
  });

  it('maps 401 without a body to a permanent KubeApiError', async () => {
    const stub = await startStub((_req, res) => {
      res.writeHead(401);
      res.end();
    });
    const { cluster, observed } = clusterFor(stub.url);
    const err = await caught(cluster.getNode('n1'));
    expect(err).toMatchObject({ code: 401, reason: 'Unauthorized', retryable: false });
    expect(observed).toEqual([['get', 'nodes', 401]]);
  });

  it('maps a non-JSON 503 to a retryable KubeApiError with the text as message', async () => {
    const stub = await startStub((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream connect error');
    });
    const { cluster } = clusterFor(stub.url);
    const err = await caught(cluster.listNodes());
    expect(err).toMatchObject({ code: 503, reason: 'ServiceUnavailable', retryable: true });
    expect((err as Error).message).toContain('upstream connect error');
  });

  it('turns a hung request into a retryable timeout (code 0) within requestTimeoutMs', async () => {
    const stub = await startStub(() => {
      /* never answers */
    });
    const { cluster, observed } = clusterFor(stub.url, 200);
    const started = Date.now();
    const err = await caught(cluster.getPod('ns', 'p'));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 0, reason: 'Timeout', retryable: true });
    expect(observed).toEqual([['get', 'pods', 0]]);
  });

  it('turns a refused connection into a retryable network error (code 0)', async () => {
    const stub = await startStub(() => undefined);
    const url = stub.url;
    await stub.close();
    open.splice(0);
    const { cluster, observed } = clusterFor(url);
    const err = await caught(cluster.ping());
    expect(err).toMatchObject({ code: 0, reason: 'NetworkError', retryable: true });
    expect(observed).toEqual([['get', 'version', 0]]);
  });

  it('refuses an http:// server without skipTLSVerify as a permanent local error', async () => {
    const stub = await startStub((_req, res) => json(res, 200, { gitVersion: 'v1.32.0' }));
    const kc = kubeConfigFor(stub.url);
    kc.clusters[0] = { ...kc.clusters[0]!, skipTLSVerify: false };
    const observed: number[] = [];
    const cluster = new ClientNodeCluster({ kc, requestTimeoutMs: 1000, observe: (_v, _r, code) => observed.push(code) });
    const err = await caught(cluster.ping());
    expect(err).toBeInstanceOf(PermanentError);
    expect(observed).toEqual([0]);
    expect(stub.seen).toHaveLength(0);
  });

  it('treats a failed uid precondition on delete and evict as gone', async () => {
    const stub = await startStub((_req, res) =>
      json(res, 409, status(409, 'Conflict', 'Precondition failed: UID in precondition: a, UID in object meta: b')),
    );
    const { cluster } = clusterFor(stub.url);
    await expect(cluster.deletePod('ns', 'p', 'a', { dryRun: false })).resolves.toBe('gone');
    await expect(cluster.evictPod('ns', 'p', 'a', { dryRun: false })).resolves.toBe('gone');
  });

  it('follows continue tokens and restarts once when a token expires (410)', async () => {
    let expired = false;
    const node = (name: string) => ({ metadata: { name, uid: name, resourceVersion: '1' }, spec: {}, status: {} });
    const stub = await startStub((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const token = url.searchParams.get('continue');
      expect(url.searchParams.get('limit')).toBe('500');
      if (!token) return json(res, 200, { kind: 'NodeList', metadata: { continue: 'page2' }, items: [node('a')] });
      if (token === 'page2' && !expired) {
        expired = true;
        return json(res, 410, status(410, 'Expired', 'The provided continue parameter is too old'));
      }
      return json(res, 200, { kind: 'NodeList', metadata: {}, items: [node('b')] });
    });
    const { cluster, observed } = clusterFor(stub.url);
    const nodes = await cluster.listNodes();
    expect(nodes.map((n) => n.name)).toEqual(['a', 'b']);
    expect(observed).toEqual([
      ['list', 'nodes', 200],
      ['list', 'nodes', 410],
      ['list', 'nodes', 200],
      ['list', 'nodes', 200],
    ]);
  });
});
