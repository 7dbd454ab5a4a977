/**
 * The playbooks this build ships, listed explicitly: a playbook exists only when it is registered
 * here, never because a file happens to sit in the directory.
 */
import type { AnyPlaybook } from '../src/engine/playbook.js';
import { drainGpuNode } from './drain-gpu-node.js';
import { raiseMemoryLimit } from './raise-memory-limit.js';
import { restartOomPod } from './restart-oom-pod.js';
import { scaleReplicas } from './scale-replicas.js';
import { uncordonNode } from './uncordon-node.js';

export const playbooks: AnyPlaybook[] = [scaleReplicas, restartOomPod, drainGpuNode, uncordonNode, raiseMemoryLimit];
