import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlertmanagerClient } from '../../src/clients/alertmanager-client.js';
import { ExternalServiceError, type HttpEndpointConfig } from '../../src/clients/http-endpoint.js';
import { PrometheusClient } from '../../src/clients/prometheus-client.js';
import { SimPrometheus } from '../../src/sim/sim-prometheus.js';
import { FakeAlertmanager } from '../helpers/fake-alertmanager.js';

const SECRET = 'prom-secret-token-do-not-log-4242';

function secretFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'remediator-clients-'));
  const path = join(dir, 'token');
  writeFileSync(path, `${content}\n`);
  return path;
}

/** A port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Prometheus client (against a server answering like the query API)', () => {
  let prom: SimPrometheus;
  const sleeps: number[] = [];
  const sleep = async (ms: number) => void sleeps.push(ms);
  let config: HttpEndpointConfig;

  beforeEach(async () => {
    prom = new SimPrometheus();
    await prom.start();
    sleeps.length = 0;
    config = { url: prom.url, timeoutSeconds: 2, retries: 2, bearerTokenFile: secretFile(SECRET) };
  });
  afterEach(() => prom.close());

  it('sends the query with the bearer token and reads samples; an unknown query is empty', async () => {
    prom.set('up > 0', [{ metric: { job: 'dcgm' }, value: 1 }]);
    const client = new PrometheusClient(config, sleep);
    const hit = await client.query('up > 0');
    expect(hit).toMatchObject({ resultType: 'vector', empty: false, samples: [{ metric: { job: 'dcgm' }, value: '1' }] });
    expect((await client.query('up < 0')).empty).toBe(true);
    expect(prom.received.map((r) => r.query)).toEqual(['up > 0', 'up < 0']);
    expect(prom.received[0]!.authorization).toBe(`Bearer ${SECRET}`);
  });

  it('sends basic auth from a password file', async () => {
    const client = new PrometheusClient({ url: prom.url, timeoutSeconds: 2, retries: 0, basicAuth: { username: 'remediator', passwordFile: secretFile('pw') } }, sleep);
    await client.query('up');
    expect(prom.received[0]!.authorization).toBe(`Basic ${Buffer.from('remediator:pw').toString('base64')}`);
  });

  it('retries 500 and 429 with backoff, honouring Retry-After, within its bound', async () => {
    prom.injectFault({ status: 500, times: 1 });
    prom.injectFault({ status: 429, retryAfterSeconds: 1, times: 1 });
    prom.set('up', [{ metric: {}, value: 1 }]);
    const client = new PrometheusClient(config, sleep);
    expect((await client.query('up')).empty).toBe(false);
    expect(prom.received).toHaveLength(3);
    expect(sleeps).toEqual([250, 1000]);
  });

  it('gives up after its retries with a message that says what failed, and no secret', async () => {
    prom.injectFault({ status: 503, times: 5 });
    const client = new PrometheusClient(config, sleep);
    const err = await client.query('up').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExternalServiceError);
    expect((err as Error).message).toBe(`Prometheus POST ${prom.url}/api/v1/query: 503 Service Unavailable: injected 503 (gave up after 3 attempts)`);
    expect(JSON.stringify(err)).not.toContain(SECRET);
    expect(String((err as Error).stack)).not.toContain(SECRET);
    expect(prom.received).toHaveLength(3);
  });

  it('does not retry a query Prometheus refuses (400), and says why', async () => {
    const client = new PrometheusClient(config, sleep);
    const err = (await client.query('').catch((e: unknown) => e)) as ExternalServiceError;
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('400 Bad Request: invalid parameter "query": missing');
    expect(prom.received).toHaveLength(1);
  });

  it('times out a server that never answers', async () => {
    prom.injectFault({ hang: true, times: 2 });
    const client = new PrometheusClient({ ...config, timeoutSeconds: 0.3, retries: 1 }, sleep);
    const started = Date.now();
    const err = (await client.query('up').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`Prometheus POST ${prom.url}/api/v1/query: no answer within 0.3s (gave up after 2 attempts)`);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reports an unreachable server', async () => {
    const port = await closedPort();
    const client = new PrometheusClient({ url: `http://user:hunter2@127.0.0.1:${port}`, timeoutSeconds: 1, retries: 1 }, sleep);
    const err = (await client.query('up').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`Prometheus POST http://127.0.0.1:${port}/api/v1/query: unreachable (ECONNREFUSED) (gave up after 2 attempts)`);
    expect(err.message).not.toContain('hunter2');
  });

  it('says which token file it cannot read', async () => {
    const client = new PrometheusClient({ ...config, bearerTokenFile: '/nonexistent/token' }, sleep);
    await expect(client.query('up')).rejects.toThrow('Prometheus: cannot read bearerTokenFile /nonexistent/token (ENOENT)');
  });
});

describe('Alertmanager client (against a server answering like API v2)', () => {
  let am: FakeAlertmanager;
  beforeEach(async () => {
    am = new FakeAlertmanager();
    await am.start();
  });
  afterEach(() => am.close());

  it('finds a firing alert by its labels (values quoted and escaped), and not a resolved one', async () => {
    const labels = { alertname: 'GPUNodeOverheating', node: 'gpu "1"\\x' };
    am.fire(labels);
    am.fire({ alertname: 'Other', node: 'gpu-2' });
    const client = new AlertmanagerClient({ url: am.url, timeoutSeconds: 2, retries: 0 });
    const firing = await client.firingAlerts(labels);
    expect(firing.map((a) => a.labels)).toEqual([labels]);
    expect(new URLSearchParams(am.requests[0]!.search).getAll('filter')).toEqual(['alertname="GPUNodeOverheating"', 'node="gpu \\"1\\"\\\\x"']);
    am.resolve(labels);
    expect(await client.firingAlerts(labels)).toEqual([]);
  });

  it('creates a silence of exactly the alert and expires it; expiring twice is fine', async () => {
    const client = new AlertmanagerClient({ url: am.url, timeoutSeconds: 2, retries: 0 });
    const id = await client.createSilence({ labels: { alertname: 'A', node: 'n' }, startsAt: new Date(), endsAt: new Date(Date.now() + 60_000), createdBy: 'remediator', comment: 'run link' });
    expect(am.silences.get(id)).toMatchObject({ createdBy: 'remediator', comment: 'run link', state: 'active', matchers: [{ name: 'alertname', value: 'A', isRegex: false, isEqual: true }, { name: 'node', value: 'n', isRegex: false, isEqual: true }] });
    await client.expireSilence(id);
    expect(am.silences.get(id)!.state).toBe('expired');
    await client.expireSilence('no-such-silence');
  });

  it('retries a 500 and then answers', async () => {
    am.failNext = 1;
    const client = new AlertmanagerClient({ url: am.url, timeoutSeconds: 2, retries: 1 }, async () => undefined);
    expect(await client.firingAlerts({ alertname: 'A' })).toEqual([]);
    expect(am.requests).toHaveLength(2);
  });
});

describe('TLS options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remediator-tls-'));
  let server: HttpsServer;
  let url: string;
  const clientCerts: (string | undefined)[] = [];

  beforeAll(async () => {
    // A self-signed server certificate for 127.0.0.1, and a client certificate signed by it.
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.pem', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=remediator');
    openssl('x509', '-req', '-in', 'client.csr', '-CA', 'server.pem', '-CAkey', 'server.key', '-CAcreateserial', '-out', 'client.pem', '-days', '1');
    server = createHttpsServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')), ca: readFileSync(join(dir, 'server.pem')), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
      clientCerts.push(Array.isArray(cn) ? cn.join(",") : cn);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses an unknown certificate, trusts caFile, presents a client certificate, and can skip verification', async () => {
    const base = { url, timeoutSeconds: 2, retries: 0 };
    const untrusted = (await new PrometheusClient(base).query('up').catch((e: unknown) => e)) as Error;
    expect(untrusted.message).toMatch(/unreachable \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/);
    expect((await new PrometheusClient({ ...base, tls: { caFile: join(dir, 'server.pem'), insecureSkipVerify: false } }).query('up')).empty).toBe(true);
    await new PrometheusClient({ ...base, tls: { caFile: join(dir, 'server.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key'), insecureSkipVerify: false } }).query('up');
    expect(clientCerts.at(-1)).toBe('remediator');
    expect((await new PrometheusClient({ ...base, tls: { insecureSkipVerify: true } }).query('up')).empty).toBe(true);
  });
});
