import type { Matcher } from '../alertmanager/matcher.js';
import type { EngineGuards, EngineRule, EscalateConfig, VerifyConfig } from '../engine/engine-rule.js';

export type { EscalateConfig, VerifyConfig } from '../engine/engine-rule.js';
import type { TOKEN_ROLES } from './config-schema.js';
import type { ConfigProblem } from './config-error.js';
import type { HttpEndpointConfig } from '../clients/http-endpoint.js';

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

/** A rule as loaded: what the engine needs, plus what matching, logs and later features use. */
export interface RuleConfig extends EngineRule {
  matchers: Matcher[];
  /** The matchers as written, for logs, run records and the API. */
  matcherTexts: string[];
  continue: boolean;
  escalate?: EscalateConfig;
  notify: string[];
}

export interface GuardsConfig extends EngineGuards {
  manualApproval: 'none' | 'destructive' | 'all';
}

/** A notification channel. The URL and secret are read at every send (rotation works) and never logged. */
export interface NotificationConfig {
  name: string;
  type: 'slack' | 'webhook';
  url?: string;
  /** Absolute. */
  urlFile?: string;
  urlEnv?: string;
  /** Absolute; webhook only. */
  secretFile?: string;
  secretEnv?: string;
  timeoutSeconds: number;
}

export type TlsFilesConfig = NonNullable<HttpEndpointConfig['tls']>;

/** How to reach Redis: exactly one topology. Password files are absolute paths, read when a client is built. */
export type RedisConnectionConfig =
  | { mode: 'standalone'; url: string }
  | { mode: 'sentinel'; name: string; sentinels: string[]; passwordFile?: string; sentinelPasswordFile?: string; tls?: TlsFilesConfig }
  | { mode: 'cluster'; nodes: string[]; passwordFile?: string; tls?: TlsFilesConfig };

export interface RedisConfig {
  connection: RedisConnectionConfig;
  prefix: string;
  /** Replicas WAIT must confirm before the webhook answers 200 (0: no WAIT). */
  minReplicasAcked: number;
}

/** The validated configuration. File paths are absolute (relative ones resolve against the config file's directory). */
export interface LoadedConfig {
  /** Where it came from (a path, or a label such as `<defaults>`). */
  source: string;
  server: { port: number; bodyLimit: string | number; shutdownGraceSeconds: number };
  redis: RedisConfig;
  kubernetes: { kubeconfig?: string; context?: string; requestTimeoutSeconds: number };
  dryRun: boolean;
  auth: { tokens: TokenConfig[] };
  audit: { keyFile?: string; maxAgeMs: number; maxEntries: number };
  guards: GuardsConfig;
  /** Run records (and the runs index) expire this long after creation (`runs.retention`). */
  runs: { retentionMs: number };
  prometheus?: HttpEndpointConfig;
  alertmanager?: HttpEndpointConfig;
  ui: { externalUrl?: string };
  notifications: NotificationConfig[];
  rules: RuleConfig[];
  /** What `validate` could not check on this machine (secrets it cannot resolve here); `serve` refuses them. */
  warnings?: ConfigProblem[];
}
