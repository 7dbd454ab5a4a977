/**
 * Starts a simulated Kubernetes API server on plain HTTP for the demo, `remediator sim` and
 * tests, and gives tests direct access to its state and to the requests it received.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeObject, Pod, PodDisruptionBudget } from './kube-types.js';
import { isRecord } from './kube-types.js';
import { mergePatch } from './patch.js';
import { withOomKill } from './pod-status.js';
import { SimRbac, type SimAuthRecord, type SimRbacOptions } from './rbac.js';
import { resolveResource, type ResourceDef } from './resources.js';
import { installSeed } from './seed-install.js';
import { SimApi } from './sim-api.js';
import { PDBS, PODS, SimControllers } from './sim-controllers.js';
import { SIM_DEFAULT_TOKEN, simKubeconfigYaml } from './sim-kubeconfig.js';
import { defaultSeed, type SimSeed } from './sim-seed.js';
import { SimHttpHandler, type SimEarlyFault, type SimFault, type SimRequestRecord } from './sim-server.js';
import { SimStore } from './sim-store.js';

export interface SimClusterOptions {
  /** Starting state; default: the bundled GPU cluster (defaultSeed()). `{}` starts empty. */
  seed?: SimSeed;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** When set, every request except /version and health checks needs `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * RBAC, off by default. When on, the `token` option (default "sim-token", the one
   * `kubeconfigYaml()` carries) is the all-powerful admin (system:masters), each token of
   * `rbac.tokens` authenticates as its user and is authorized by the RBAC objects in
   * `rbac.manifests` (plus the bootstrap discovery grants), any other token gets 401, and a
   * request without a token is system:anonymous. Denials are the apiserver's 403 Status.
   */
  rbac?: SimRbacOptions;
  /** Overrides seed.options.readyDelayMs. */
  readyDelayMs?: number;
  /** Overrides seed.options.terminationDelayMs. */
  terminationDelayMs?: number;
}

export interface SimCluster {
  /** Base URL, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: SimRequestRecord[];
  /** The object store (reads return copies). */
  readonly state: SimStore;
  /** REST semantics without HTTP (what the server does for each request). */
  readonly api: SimApi;
  /** The requests that were not reads (non-GET). */
  mutations(): SimRequestRecord[];
  /** An object by kind ("Pod", "pods", "deploy", ...), namespace (ignored for cluster-scoped kinds) and name. */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(kind: string, namespace?: string): KubeObject[];
  /**
   * Merge-patches any part of an object, status included, as a controller or kubelet would;
   * bumps resourceVersion and lets the controllers react.
   */
  patchObject(kind: string, namespace: string | undefined, name: string, patch: Record<string, unknown>): KubeObject;
  /** Replaces the PDB's budget by `maxUnavailable` (dropping minAvailable). */
  setPdbMaxUnavailable(namespace: string, name: string, maxUnavailable: number | string): PodDisruptionBudget;
  /** Marks a container as restarted after an OOM kill (lastState.terminated.reason OOMKilled, exit 137). */
  markOOMKilled(namespace: string, pod: string, container: string, restartCount?: number): Pod;
  /** A kubeconfig for this server (token: the argument, else the `token` option or "sim-token"). */
  kubeconfigYaml(token?: string): string;
  /**
   * With RBAC on, every authorization decision in arrival order (a copy); empty when off.
   * With REMEDIATOR_SIM_AUTH_LOG_DIR set, those of mapped tokens are also appended as NDJSON to
   * `<dir>/sim-auth-<pid>.ndjson`.
   */
  authLog(): SimAuthRecord[];
  /**
   * A SimFault makes matching applied requests lose (or delay) their answer after the change is
   * stored. A SimEarlyFault (`stage: 'before-apply'`) refuses matching requests with a Status
   * (500, 503, 429 with or without Retry-After, 409, ...), holds them without an answer, or
   * serves them late, before anything is applied. Each kind is tried in the order injected.
   */
  injectFault(fault: SimFault | SimEarlyFault): void;
  /** Drops every fault not yet used up, of both kinds. */
  clearFaults(): void;
  /** Also ends answers that a 'none' fault or an early fault left open. */
  close(): Promise<void>;
}

function resourceOf(kind: string): ResourceDef {
  const def = resolveResource(kind);
  if (!def) throw new Error(`sim: unknown kind ${kind}`);
  return def;
}

class RunningSimCluster implements SimCluster {
  constructor(
    readonly url: string,
    readonly requests: SimRequestRecord[],
    readonly state: SimStore,
    readonly api: SimApi,
    private readonly controllers: SimControllers,
    private readonly server: Server,
    private readonly handler: SimHttpHandler,
    private readonly token: string | undefined,
    private readonly rbac: SimRbac | undefined,
  ) {}

  mutations(): SimRequestRecord[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.state.get(resourceOf(kind), namespace, name);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    return this.state.list(resourceOf(kind), namespace);
  }

  patchObject(kind: string, namespace: string | undefined, name: string, patch: Record<string, unknown>): KubeObject {
    const def = resourceOf(kind);
    const current = this.state.get(def, namespace, name);
    if (!current) throw new Error(`sim: ${def.plural} ${namespace ? `${namespace}/` : ''}${name} not found`);
    const next = mergePatch(current, patch) as KubeObject;
    next.metadata = { ...next.metadata, name: current.metadata.name, uid: current.metadata.uid };
    if (isRecord(patch['spec']) && def.hasGeneration) next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    const stored = this.state.replace(def, next);
    this.controllers.reconcile();
    return stored;
  }

  setPdbMaxUnavailable(namespace: string, name: string, maxUnavailable: number | string): PodDisruptionBudget {
    this.patchObject(PDBS.kind, namespace, name, { spec: { minAvailable: null, maxUnavailable } });
    return this.state.get(PDBS, namespace, name) as PodDisruptionBudget;
  }

  markOOMKilled(namespace: string, pod: string, container: string, restartCount?: number): Pod {
    const current = this.state.get(PODS, namespace, pod) as Pod | undefined;
    if (!current) throw new Error(`sim: pod ${namespace}/${pod} not found`);
    const before = current.status?.containerStatuses?.find((c) => c.name === container);
    if (!before) throw new Error(`sim: pod ${namespace}/${pod} has no status for container ${container}`);
    current.status = withOomKill(current.status ?? {}, container, restartCount ?? before.restartCount + 1);
    const stored = this.state.replace(PODS, current) as Pod;
    this.controllers.reconcile();
    return stored;
  }

  kubeconfigYaml(token?: string): string {
    return simKubeconfigYaml(this.url, token ?? this.token ?? SIM_DEFAULT_TOKEN);
  }

  authLog(): SimAuthRecord[] {
    return this.rbac?.log() ?? [];
  }

  injectFault(fault: SimFault | SimEarlyFault): void {
    this.handler.injectFault(fault);
  }

  clearFaults(): void {
    this.handler.clearFaults();
  }

  async close(): Promise<void> {
    this.controllers.close();
    this.handler.closeWatches();
    await new Promise<void>((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeAllConnections();
    });
  }
}

export async function startSimCluster(opts: SimClusterOptions = {}): Promise<SimCluster> {
  const seed = opts.seed ?? defaultSeed();
  const store = new SimStore();
  const controllers = new SimControllers(store, {
    readyDelayMs: opts.readyDelayMs ?? seed.options?.readyDelayMs ?? 200,
    terminationDelayMs: opts.terminationDelayMs ?? seed.options?.terminationDelayMs ?? 0,
  });
  const api = new SimApi(store, controllers);
  installSeed({ api, store, controllers }, seed);

  const records: SimRequestRecord[] = [];
  const rbac = opts.rbac ? new SimRbac(opts.rbac, opts.token ?? SIM_DEFAULT_TOKEN) : undefined;
  let address = '127.0.0.1:0';
  const handler = new SimHttpHandler({
    api,
    store,
    records,
    serverAddress: () => address,
    ...(opts.token ? { token: opts.token } : {}),
    ...(rbac ? { rbac } : {}),
  });
  const server = createServer(handler.handle);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  address = `${urlHost}:${port}`;
  return new RunningSimCluster(`http://${address}`, records, store, api, controllers, server, handler, opts.token, rbac);
}
