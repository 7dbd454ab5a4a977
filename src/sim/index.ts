/**
 * The simulated Kubernetes cluster: used by `remediator demo`, `remediator sim` and the tests.
 * Production code never imports it.
 */
export { startSimCluster, type SimCluster, type SimClusterOptions } from './sim-cluster.js';
export { simKubeconfigYaml, SIM_DEFAULT_TOKEN } from './sim-kubeconfig.js';
export { runSimCommand, type RunSimOptions, type RunningSim } from './run-sim-command.js';
export {
  defaultSeed,
  loadSeedFile,
  parseSeed,
  SeedError,
  DEFAULT_SEED_PATH,
  type SimSeed,
  type SeedNode,
  type SeedNamespace,
  type SeedPod,
  type SeedOptions,
} from './sim-seed.js';
export type { SimFault, SimFaultAnswer, SimRequestRecord } from './sim-server.js';
export { AUTH_LOG_DIR_ENV, parseRbacManifests, type SimAuthRecord, type SimRbacOptions, type SimRbacUser } from './rbac.js';
export { SIM_ANNOTATIONS } from './pod-status.js';
export type { KubeObject } from './kube-types.js';
