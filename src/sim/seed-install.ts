/**
 * Turns a SimSeed into cluster state: objects go through the same create path as API requests
 * (so they are defaulted and validated), pinned pods are stored with their exact names and
 * states, and the controllers then fill in the rest and settle before the server listens.
 */
import { createHash } from 'node:crypto';
import type { KubeNode, KubeObject, Pod, Workload } from './kube-types.js';
import { deepCopy } from './kube-types.js';
import { withOomKill } from './pod-status.js';
import { findResourceByKind } from './resources.js';
import type { SimApi } from './sim-api.js';
import { DEPLOYMENTS, NAMESPACES, NODES, PODS, REPLICASETS, STATEFULSETS, DAEMONSETS, type SimControllers } from './sim-controllers.js';
import { SeedError, type SeedNode, type SeedPod, type SimSeed } from './sim-seed.js';
import { kubeTime, type SimStore } from './sim-store.js';
import { SimApiError } from './status.js';

function hexOf(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** A Node as a kubelet registers it, with GPU capacity from the device plugin when it has GPUs. */
export function buildNode(seed: SeedNode, index: number): KubeNode {
  const gpus = seed.gpus ?? 0;
  const cpu = seed.cpu ?? (gpus > 0 ? '96' : '16');
  const memory = seed.memory ?? (gpus > 0 ? '1056557332Ki' : '65843056Ki');
  const capacity: Record<string, string> = {
    cpu,
    'ephemeral-storage': '1056557332Ki',
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory,
    pods: '110',
    ...(gpus > 0 ? { 'nvidia.com/gpu': String(gpus) } : {}),
  };
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': seed.name,
    'kubernetes.io/os': 'linux',
    ...(gpus > 0
      ? {
          'nvidia.com/gpu.present': 'true',
          'nvidia.com/gpu.count': String(gpus),
          ...(seed.gpuProduct ? { 'nvidia.com/gpu.product': seed.gpuProduct } : {}),
        }
      : {}),
    ...(seed.labels ?? {}),
  };
  const now = kubeTime();
  const ready = seed.ready !== false;
  const pressure = (type: string, reason: string, message: string) => ({
    type,
    status: 'False' as const,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: seed.name,
      labels,
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        ...(seed.annotations ?? {}),
      },
    },
    spec: {
      podCIDR: `10.244.${index}.0/24`,
      podCIDRs: [`10.244.${index}.0/24`],
      ...(seed.unschedulable ? { unschedulable: true } : {}),
      ...(seed.taints && seed.taints.length > 0 ? { taints: deepCopy(seed.taints) } : {}),
    },
    status: {
      capacity,
      allocatable: { ...capacity, cpu: String(Math.max(1, Number(cpu) - 1)) },
      conditions: [
        pressure('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        pressure('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        pressure('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
          reason: ready ? 'KubeletReady' : 'KubeletNotReady',
          message: ready ? 'kubelet is posting ready status' : 'container runtime network not ready',
        },
      ],
      addresses: [
        { type: 'InternalIP', address: `10.0.0.${10 + index}` },
        { type: 'Hostname', address: seed.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hexOf(`${seed.name}/machine`, 32),
        systemUUID: hexOf(`${seed.name}/system`, 32),
        bootID: hexOf(`${seed.name}/boot`, 32),
        kernelVersion: '6.8.0-1021-aws',
        osImage: 'Ubuntu 22.04.5 LTS',
        containerRuntimeVersion: 'containerd://1.7.27',
        kubeletVersion: 'v1.32.4',
        kubeProxyVersion: 'v1.32.4',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const message = err instanceof SimApiError ? (err.body.message ?? err.message) : (err as Error).message;
    throw new SeedError(`seed: ${what}: ${message}`);
  }
}

function describe(obj: KubeObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${String(obj.kind)} ${ns}${String(obj.metadata?.name)}`;
}

export interface SeedTarget {
  api: SimApi;
  store: SimStore;
  controllers: SimControllers;
}

function createFromManifest(target: SeedTarget, obj: KubeObject, index: number): void {
  const apiVersion = obj.apiVersion ?? '';
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const def = findResourceByKind(group ?? '', version ?? '', obj.kind ?? '');
  if (!def) throw new SeedError(`seed: objects[${index}]: the sim does not serve ${apiVersion} ${String(obj.kind)}`);
  const namespace = def.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
  wrap(`objects[${index}] (${describe(obj)})`, () =>
    target.api.create({ def, version: version ?? '', ...(namespace ? { namespace } : {}) }, obj, { dryRun: false }),
  );
}

/** Finds or creates the ReplicaSet that a pinned Deployment pod name implies. */
function replicaSetForPinned(target: SeedTarget, pin: SeedPod, deploymentName: string): Workload {
  const rsName = pin.name.slice(0, pin.name.lastIndexOf('-'));
  const hash = rsName.slice(deploymentName.length + 1);
  if (!rsName.startsWith(`${deploymentName}-`) || hash === '' || hash.includes('-')) {
    throw new SeedError(`seed: pod ${pin.namespace}/${pin.name}: a Deployment pod must be named ${deploymentName}-<hash>-<suffix>`);
  }
  const existing = target.store.get(REPLICASETS, pin.namespace, rsName) as Workload | undefined;
  if (existing) return existing;
  const deployment = target.store.get(DEPLOYMENTS, pin.namespace, deploymentName) as Workload | undefined;
  if (!deployment) throw new SeedError(`seed: pod ${pin.namespace}/${pin.name}: Deployment ${deploymentName} is not in objects`);
  const rs = target.controllers.replicaSetFor(deployment, hash, '1');
  return target.store.insert(REPLICASETS, target.store.prepareNew(REPLICASETS, rs)) as Workload;
}

function ownerFor(target: SeedTarget, pin: SeedPod): Workload | undefined {
  if (!pin.owner) return undefined;
  const [kind, name = ''] = pin.owner.split('/');
  const missing = () => new SeedError(`seed: pod ${pin.namespace}/${pin.name}: owner ${pin.owner} does not exist`);
  switch (kind) {
    case 'Deployment':
      return replicaSetForPinned(target, pin, name);
    case 'ReplicaSet': {
      const rs = target.store.get(REPLICASETS, pin.namespace, name) as Workload | undefined;
      if (!rs) throw missing();
      return rs;
    }
    case 'StatefulSet': {
      const sts = target.store.get(STATEFULSETS, pin.namespace, name) as Workload | undefined;
      if (!sts) throw missing();
      const ordinal = Number(pin.name.slice(name.length + 1));
      if (!pin.name.startsWith(`${name}-`) || !Number.isInteger(ordinal) || ordinal < 0 || ordinal >= (sts.spec.replicas ?? 1)) {
        throw new SeedError(`seed: pod ${pin.namespace}/${pin.name}: a StatefulSet pod must be named ${name}-<ordinal below replicas>`);
      }
      return sts;
    }
    case 'DaemonSet': {
      const ds = target.store.get(DAEMONSETS, pin.namespace, name) as Workload | undefined;
      if (!ds) throw missing();
      return ds;
    }
    default:
      return undefined;
  }
}

function pinnedPod(target: SeedTarget, pin: SeedPod): Pod {
  const owner = ownerFor(target, pin);
  let pod: Pod;
  if (owner) {
    pod = target.controllers.podFor(owner, pin.name);
  } else {
    pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: pin.name, namespace: pin.namespace }, spec: deepCopy(pin.spec ?? { containers: [] }) };
    if (pin.owner?.startsWith('Node/')) {
      const nodeName = pin.owner.slice('Node/'.length);
      const node = target.store.get(NODES, undefined, nodeName);
      if (!node) throw new SeedError(`seed: pod ${pin.namespace}/${pin.name}: owner ${pin.owner} does not exist`);
      // A static pod's API copy: the kubelet names it after the node, owns it by the Node and marks it.
      const hash = hexOf(`${pin.namespace}/${pin.name}`, 32);
      pod.metadata.annotations = {
        'kubernetes.io/config.hash': hash,
        'kubernetes.io/config.mirror': hash,
        'kubernetes.io/config.seen': kubeTime(),
        'kubernetes.io/config.source': 'file',
      };
      pod.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid ?? '', controller: true }];
      pod.spec.nodeName = nodeName;
    }
  }
  pod.metadata.name = pin.name;
  pod.metadata.namespace = pin.namespace;
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), ...(pin.labels ?? {}) };
  if (pin.annotations) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...pin.annotations };
  if (pin.node) pod.spec.nodeName = pin.node;
  return pod;
}

/** Creates the seed's objects, then lets the controllers settle (every pod Running and Ready). */
export function installSeed(target: SeedTarget, seed: SimSeed): void {
  const { controllers } = target;
  // Controllers wait until the pinned pods exist, or they would create their own first.
  controllers.suspend();
  try {
    installObjects(target, seed);
  } finally {
    controllers.resume();
  }
  controllers.settle();
}

function installObjects(target: SeedTarget, seed: SimSeed): void {
  const { store, controllers } = target;
  const namespaces = seed.namespaces ?? [];
  for (const ns of namespaces) {
    wrap(`namespace ${ns.name}`, () =>
      target.api.create(
        { def: NAMESPACES, version: 'v1' },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, ...(ns.labels ? { labels: ns.labels } : {}), ...(ns.annotations ? { annotations: ns.annotations } : {}) } },
        { dryRun: false },
      ),
    );
  }
  (seed.nodes ?? []).forEach((node, i) =>
    wrap(`node ${node.name}`, () => target.api.create({ def: NODES, version: 'v1' }, buildNode(node, i + 1), { dryRun: false })),
  );
  (seed.objects ?? []).forEach((obj, i) => createFromManifest(target, obj, i));
  for (const pin of seed.pods ?? []) {
    if (store.get(PODS, pin.namespace, pin.name)) throw new SeedError(`seed: pod ${pin.namespace}/${pin.name} is listed twice`);
    const pod = wrap(`pod ${pin.namespace}/${pin.name}`, () => pinnedPod(target, pin));
    for (const container of pin.oomKilled ?? []) {
      if (!pod.spec.containers.some((c) => c.name === container)) {
        throw new SeedError(`seed: pod ${pin.namespace}/${pin.name}: oomKilled container ${container} is not in the pod`);
      }
    }
    const stored = controllers.storePod(pod);
    if (stored.spec.nodeName) {
      // Pinned pods have been running for a while: Running and Ready, with their history.
      let running = controllers.markRunning(stored);
      if (pin.oomKilled && pin.oomKilled.length > 0) {
        let status = running.status ?? {};
        for (const container of pin.oomKilled) status = withOomKill(status, container, pin.restartCount ?? 3);
        running.status = status;
        running = store.replace(PODS, running) as Pod;
      }
    } else if (pin.oomKilled && pin.oomKilled.length > 0) {
      throw new SeedError(`seed: pod ${pin.namespace}/${pin.name}: an OOM-killed pod needs a node`);
    }
  }
}
