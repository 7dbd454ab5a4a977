import type { Matcher } from '../alertmanager/matcher.js';
import type { TOKEN_ROLES } from './config-schema.js';

export type TokenRole = (typeof TOKEN_ROLES)[number];

/**
 * An API token with its secret resolved. `token` is a non-enumerable property, so the secret
 * stays out of JSON.stringify, pino and spread copies of the config, while `entry.token` works.
 */
export interface TokenConfig {
  readonly name: string;
  readonly role: TokenRole;
  readonly token: string;
}

export interface RuleConfig {
  name: string;
  matchers: Matcher[];
  /** The matchers as written, for logs, run records and the API. */
  matcherTexts: string[];
  playbook: string;
  /** As written; merged over the alert-derived params, and validated as a whole, per alert. */
  params: Record<string, unknown>;
  cooldownMs?: number;
  maxRunsPerHour?: number;
  approval: 'none' | 'required';
  onResolved: 'cancel-pending' | 'ignore';
  dryRun: boolean;
  continue: boolean;
  precheck?: string;
  verify?: { withinMs: number };
  escalate?: { notify: string[] };
  notify: string[];
}

export interface GuardsConfig {
  maxConcurrentRuns: number;
  /** An absolute count, or a percentage of all nodes (rounded up when applied). */
  maxUnschedulableNodes: { count: number } | { percent: number };
  /** Exactly one of the two is set. */
  namespaces: { allow?: string[]; deny?: string[] };
  optOutLabel: string;
  maxQueueAgeMs: number;
  approvalTimeoutMs: number;
  manualApproval: 'none' | 'destructive' | 'all';
}

export interface NotificationConfig {
  name: string;
  type: 'slack' | 'webhook';
  url?: string;
  /** Absolute; read by the notifier, not at load. */
  urlFile?: string;
}

/** The validated configuration. File paths are absolute (relative ones resolve against the config file's directory). */
export interface LoadedConfig {
  /** Where it came from (a path, or a label such as `<defaults>`). */
  source: string;
  server: { port: number; bodyLimit: string | number; shutdownGraceSeconds: number };
  redis: { url: string; prefix: string };
  kubernetes: { kubeconfig?: string; context?: string; requestTimeoutSeconds: number };
  dryRun: boolean;
  auth: { tokens: TokenConfig[] };
  audit: { keyFile?: string; maxAgeMs: number; maxEntries: number };
  guards: GuardsConfig;
  prometheus?: { url: string; bearerTokenFile?: string };
  alertmanager?: { url: string };
  notifications: NotificationConfig[];
  rules: RuleConfig[];
}
