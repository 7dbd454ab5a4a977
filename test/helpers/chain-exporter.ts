/**
 * One HTTP server standing in for the exporters of docs/operations.md "Scraping" (DESIGN §9):
 * each path is one scrape target, serving the series with the labels the real exporter gives,
 * before any relabelling; the test sets the values.
 *
 * - `/dcgm/NODE`: DCGM exporter, `DCGM_FI_DEV_GPU_TEMP` per GPU with `Hostname` (older releases)
 *   or `hostname` (newer), which name the exporter pod, not the node;
 * - `/nvidia-smi/NODE`: nvidia_gpu_exporter, `nvidia_smi_temperature_gpu{uuid}` only;
 * - `/kube-state-metrics`: `kube_pod_container_status_last_terminated_reason` and
 *   `kube_pod_container_status_restarts_total` with the object's namespace/pod/container/uid;
 * - `/llm/NAMESPACE/POD`: a FastAPI service with prometheus-client: `llm_requests_total`,
 *   `llm_request_latency_seconds` (buckets 0.1 … 60), `llm_active_requests`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const LATENCY_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60];

export interface GpuNode {
  variant: 'Hostname' | 'hostname' | 'nvidia_smi';
  temps: number[];
}

export interface OomContainer {
  namespace: string;
  pod: string;
  container: string;
  lastTerminatedReason?: 'OOMKilled' | 'Completed' | 'Error';
  restarts: number;
}

export interface LlmPod {
  /** Requests per second the pod serves, each taking `latencySeconds`. */
  rps: number;
  latencySeconds: number;
  active: number;
}

interface LlmCounters {
  buckets: number[];
  count: number;
  sum: number;
  at: number;
}

const ENDPOINT = '/v1/chat/completions';
const MODEL = 'llama-3.1-70b-instruct';

export class ChainExporter {
  readonly gpus = new Map<string, GpuNode>();
  readonly containers: OomContainer[] = [];
  readonly llm = new Map<string, LlmPod>();
  private readonly counters = new Map<string, LlmCounters>();
  private server?: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const body = this.render(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Sets a pod's load; counters keep what was served so far, as a real process's would. */
  setLlm(namespace: string, pod: string, load: LlmPod): void {
    this.advance(`${namespace}/${pod}`);
    this.llm.set(`${namespace}/${pod}`, load);
  }

  private advance(key: string): LlmCounters {
    const now = Date.now();
    const c = this.counters.get(key) ?? { buckets: LATENCY_BUCKETS.map(() => 0), count: 0, sum: 0, at: now };
    const load = this.llm.get(key);
    if (load) {
      const n = Math.round((load.rps * (now - c.at)) / 1000);
      c.count += n;
      c.sum += n * load.latencySeconds;
      LATENCY_BUCKETS.forEach((le, i) => {
        if (load.latencySeconds <= le) c.buckets[i]! += n;
      });
    }
    c.at = now;
    this.counters.set(key, c);
    return c;
  }

  private render(path: string): string | undefined {
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'dcgm' && parts[1]) return this.dcgm(parts[1]);
    if (parts[0] === 'nvidia-smi' && parts[1]) return this.nvidiaSmi(parts[1]);
    if (parts[0] === 'kube-state-metrics') return this.kubeStateMetrics();
    if (parts[0] === 'llm' && parts[1] && parts[2]) return this.llmService(parts[1], parts[2]);
    return undefined;
  }

  private dcgm(node: string): string {
    const g = this.gpus.get(node);
    const lines = ['# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).', '# TYPE DCGM_FI_DEV_GPU_TEMP gauge'];
    if (g && g.variant !== 'nvidia_smi') {
      // DCGM names the exporter pod in Hostname/hostname (unless NODE_NAME is set): not usable as `node`.
      const host = `nvidia-dcgm-exporter-${node.replace(/[^a-z0-9]/g, '').slice(-5)}`;
      g.temps.forEach((t, i) => {
        lines.push(`DCGM_FI_DEV_GPU_TEMP{gpu="${i}",UUID="GPU-${node}-${i}",device="nvidia${i}",modelName="NVIDIA H100 80GB HBM3",${g.variant}="${host}",DCGM_FI_DRIVER_VERSION="550.54.15"} ${t}`);
      });
    }
    return `${lines.join('\n')}\n`;
  }

  private nvidiaSmi(node: string): string {
    const g = this.gpus.get(node);
    const lines = ['# HELP nvidia_smi_temperature_gpu temperature.gpu', '# TYPE nvidia_smi_temperature_gpu gauge'];
    if (g?.variant === 'nvidia_smi') g.temps.forEach((t, i) => lines.push(`nvidia_smi_temperature_gpu{uuid="GPU-${node}-${i}"} ${t}`));
    return `${lines.join('\n')}\n`;
  }

  private kubeStateMetrics(): string {
    const lines = [
      '# HELP kube_pod_container_status_last_terminated_reason Describes the last reason the container was in terminated state.',
      '# TYPE kube_pod_container_status_last_terminated_reason gauge',
    ];
    for (const c of this.containers) {
      if (c.lastTerminatedReason) lines.push(`kube_pod_container_status_last_terminated_reason{namespace="${c.namespace}",pod="${c.pod}",uid="uid-${c.pod}",container="${c.container}",reason="${c.lastTerminatedReason}"} 1`);
    }
    lines.push('# HELP kube_pod_container_status_restarts_total The number of container restarts per container.', '# TYPE kube_pod_container_status_restarts_total counter');
    for (const c of this.containers) lines.push(`kube_pod_container_status_restarts_total{namespace="${c.namespace}",pod="${c.pod}",uid="uid-${c.pod}",container="${c.container}"} ${c.restarts}`);
    return `${lines.join('\n')}\n`;
  }

  private llmService(namespace: string, pod: string): string {
    const key = `${namespace}/${pod}`;
    const c = this.advance(key);
    const load = this.llm.get(key);
    const l = `endpoint="${ENDPOINT}",model="${MODEL}"`;
    return [
      '# HELP llm_requests_total Total LLM requests',
      '# TYPE llm_requests_total counter',
      `llm_requests_total{${l},status="200"} ${c.count}`,
      '# HELP llm_request_latency_seconds LLM request latency',
      '# TYPE llm_request_latency_seconds histogram',
      ...LATENCY_BUCKETS.map((le, i) => `llm_request_latency_seconds_bucket{${l},le="${le.toFixed(1)}"} ${c.buckets[i]}`),
      `llm_request_latency_seconds_bucket{${l},le="+Inf"} ${c.count}`,
      `llm_request_latency_seconds_count{${l}} ${c.count}`,
      `llm_request_latency_seconds_sum{${l}} ${c.sum}`,
      '# HELP llm_active_requests Requests being processed',
      '# TYPE llm_active_requests gauge',
      `llm_active_requests{${l}} ${load?.active ?? 0}`,
      '',
    ].join('\n');
  }
}
