import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseForwardAuthRules, RulesError, type ForwardAuthRule } from './core/forward-auth-rules.js';

/**
 * Configuration (SPEC §3): environment variables, each also a `tokend serve` flag.
 * Validated once at start-up into a frozen object; a bad value is a ConfigError
 * whose message is one line naming the variable.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly redisUrl: string | null;
  /** `iss` of JWTs and the metadata document; null means `http://HOST:PORT` once the port is known. */
  readonly issuer: string | null;
  readonly env: 'production' | 'development';
  readonly adminToken: string | null;
  readonly logLevel: LogLevel;
  readonly loginLimits: LoginLimits;
  /** Password hashes running at once; more wait in a queue of `hashQueue`, then 429. */
  readonly hashConcurrency: number;
  readonly hashQueue: number;
  /** Addresses of reverse proxies whose X-Forwarded-For is trusted; empty trusts none. */
  readonly trustProxy: readonly string[];
  /** Postgres: connections per node, and how long a statement or a connection attempt may take. */
  readonly databasePoolSize: number;
  readonly databaseTimeoutMs: number;
  /** Seconds between sweeps of long-expired tokens on this node; 0 turns the sweeper off. */
  readonly sweepIntervalSeconds: number;
  /** When set, GET /metrics wants it as a Bearer token; null leaves /metrics open on the listen address. */
  readonly metricsToken: string | null;
  /** Route rules of GET /v1/forward-auth, read from TOKEND_FORWARD_AUTH_RULES; null keeps the default rule. */
  readonly forwardAuthRules: readonly ForwardAuthRule[] | null;
}

export interface LoginLimits {
  /** Failed logins for one username within `windowSeconds` before it is locked for the rest of the window. */
  readonly perUser: number;
  /** Failed logins from one client IP within `windowSeconds`. */
  readonly perIp: number;
  readonly windowSeconds: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

/** The settings, their env var, the `serve` flag that matches it, and what they mean. */
export const SETTINGS = [
  { env: 'TOKEND_HOST', flag: 'host', help: 'listen address', fallback: '127.0.0.1' },
  { env: 'TOKEND_PORT', flag: 'port', help: 'listen port (0 = any free port)', fallback: '8080' },
  { env: 'TOKEND_DATABASE_URL', flag: 'database-url', help: 'sqlite:PATH, sqlite::memory: or postgres://…', fallback: 'sqlite:./data/tokend.db' },
  { env: 'TOKEND_REDIS_URL', flag: 'redis-url', help: 'Redis for cross-node revocation and shared rate limits', fallback: undefined },
  { env: 'TOKEND_ISSUER', flag: 'issuer', help: 'iss of JWTs and the metadata document (default http://HOST:PORT)', fallback: undefined },
  { env: 'TOKEND_ENV', flag: 'env', help: 'production or development', fallback: 'production' },
  { env: 'TOKEND_ADMIN_TOKEN', flag: 'admin-token', help: 'an operator token (at least 32 characters)', fallback: undefined },
  { env: 'TOKEND_LOG_LEVEL', flag: 'log-level', help: 'fatal, error, warn, info, debug, trace or silent', fallback: 'info' },
  { env: 'TOKEND_LOGIN_LIMIT_USER', flag: 'login-limit-user', help: 'failed logins per username per window', fallback: '10' },
  { env: 'TOKEND_LOGIN_LIMIT_IP', flag: 'login-limit-ip', help: 'failed logins per client IP per window', fallback: '100' },
  { env: 'TOKEND_LOGIN_WINDOW', flag: 'login-window', help: 'login limit window in seconds', fallback: '900' },
  { env: 'TOKEND_HASH_CONCURRENCY', flag: 'hash-concurrency', help: 'password hashes computed at once (default: the cores this process may run on, at most 4)', fallback: String(defaultHashConcurrency()) },
  { env: 'TOKEND_HASH_QUEUE', flag: 'hash-queue', help: 'password hashes allowed to wait before 429', fallback: '64' },
  { env: 'TOKEND_DATABASE_POOL_SIZE', flag: 'database-pool-size', help: 'Postgres connections per node', fallback: '10' },
  { env: 'TOKEND_DATABASE_TIMEOUT_MS', flag: 'database-timeout-ms', help: 'Postgres statement timeout in ms (connecting: half of it)', fallback: '5000' },
  { env: 'TOKEND_TRUST_PROXY', flag: 'trust-proxy', help: 'comma-separated proxy addresses whose X-Forwarded-For is trusted', fallback: '' },
  { env: 'TOKEND_SWEEP_INTERVAL', flag: 'sweep-interval', help: 'seconds between sweeps of long-expired tokens (0 = off)', fallback: '300' },
  { env: 'TOKEND_FORWARD_AUTH_RULES', flag: 'forward-auth-rules', help: 'JSON file of route rules for GET /v1/forward-auth (unset = any access, API or service token)', fallback: undefined },
  { env: 'TOKEND_METRICS_TOKEN', flag: 'metrics-token', help: 'Bearer token GET /metrics requires (at least 32 characters; unset = open)', fallback: undefined },
] as const;

type Source = Readonly<Record<string, string | undefined>>;

/**
 * One argon2id hash per core this process may run on (its CPU affinity, as
 * taskset or a cpuset sets it), at most 4 (76 MiB of hashing memory). A hash is
 * CPU-bound: a second one on the same core doubles both latencies and thrashes
 * the cache they share. On one pinned core, one at a time verified 212-216
 * hashes/s against 167-168 two at a time.
 */
function defaultHashConcurrency(): number {
  return Math.min(availableParallelism(), 4);
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A bad value as the error shows it: quoted and escaped, so the message stays one line whatever it holds. */
const shown = (raw: string): string => JSON.stringify(raw);

/** A URL without its userinfo: a malformed database or Redis URL may still carry a password. */
const withoutCredentials = (raw: string): string => raw.replace(/^([a-z][\w+.-]*:\/\/).*@/i, '$1…@');

function integer(variable: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(variable, `must be a whole number from ${min} to ${max} (got ${shown(raw)})`);
  }
  return Number(raw);
}

function url(variable: string, raw: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(variable, `must be a URL (got ${shown(withoutCredentials(raw))})`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(variable, `must start with ${protocols.join(' or ')} (got "${parsed.protocol}")`);
  }
  return raw;
}

function databaseUrl(raw: string): string {
  if (raw.startsWith('sqlite:')) {
    if (raw.length === 'sqlite:'.length) throw new ConfigError('TOKEND_DATABASE_URL', 'needs a path after sqlite: (or sqlite::memory:)');
    return raw;
  }
  return url('TOKEND_DATABASE_URL', raw, ['postgres:', 'postgresql:']);
}

function forwardAuthRules(path: string | undefined): readonly ForwardAuthRule[] | null {
  if (path === undefined) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('TOKEND_FORWARD_AUTH_RULES', `names a file that cannot be read (${shown(path)}: ${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseForwardAuthRules(text);
  } catch (error) {
    if (error instanceof RulesError) throw new ConfigError('TOKEND_FORWARD_AUTH_RULES', `(${shown(path)}) ${error.message}`);
    throw error;
  }
}

/**
 * Reads the configuration from environment variables, with `overrides` (from
 * command-line flags, keyed by env var name) taking precedence.
 */
export function loadConfig(env: Source, overrides: Source = {}): Config {
  const read = (name: (typeof SETTINGS)[number]['env']): string | undefined => {
    const value = overrides[name] ?? env[name];
    return value === '' ? undefined : value;
  };
  const fallback = (name: (typeof SETTINGS)[number]['env']): string =>
    read(name) ?? SETTINGS.find((s) => s.env === name)?.fallback ?? '';

  const host = fallback('TOKEND_HOST');
  const port = integer('TOKEND_PORT', fallback('TOKEND_PORT'), 0, 65535);
  const redis = read('TOKEND_REDIS_URL');
  const issuer = read('TOKEND_ISSUER');
  const envName = fallback('TOKEND_ENV');
  if (envName !== 'production' && envName !== 'development') {
    throw new ConfigError('TOKEND_ENV', `must be production or development (got ${shown(envName)})`);
  }
  const adminToken = read('TOKEND_ADMIN_TOKEN') ?? null;
  if (adminToken !== null && adminToken.length < 32) {
    throw new ConfigError('TOKEND_ADMIN_TOKEN', `must be at least 32 characters (got ${adminToken.length})`);
  }
  const metricsToken = read('TOKEND_METRICS_TOKEN') ?? null;
  if (metricsToken !== null && metricsToken.length < 32) {
    throw new ConfigError('TOKEND_METRICS_TOKEN', `must be at least 32 characters (got ${metricsToken.length})`);
  }
  const logLevel = fallback('TOKEND_LOG_LEVEL');
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError('TOKEND_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got ${shown(logLevel)})`);
  }
  const config: Config = {
    host,
    port,
    databaseUrl: databaseUrl(fallback('TOKEND_DATABASE_URL')),
    redisUrl: redis === undefined ? null : url('TOKEND_REDIS_URL', redis, ['redis:', 'rediss:']),
    issuer: issuer === undefined ? null : url('TOKEND_ISSUER', issuer, ['http:', 'https:']).replace(/\/+$/, ''),
    env: envName,
    adminToken,
    logLevel: logLevel as LogLevel,
    loginLimits: Object.freeze({
      perUser: integer('TOKEND_LOGIN_LIMIT_USER', fallback('TOKEND_LOGIN_LIMIT_USER'), 1, 1_000_000),
      perIp: integer('TOKEND_LOGIN_LIMIT_IP', fallback('TOKEND_LOGIN_LIMIT_IP'), 1, 1_000_000),
      windowSeconds: integer('TOKEND_LOGIN_WINDOW', fallback('TOKEND_LOGIN_WINDOW'), 1, 86_400),
    }),
    hashConcurrency: integer('TOKEND_HASH_CONCURRENCY', fallback('TOKEND_HASH_CONCURRENCY'), 1, 256),
    hashQueue: integer('TOKEND_HASH_QUEUE', fallback('TOKEND_HASH_QUEUE'), 0, 100_000),
    databasePoolSize: integer('TOKEND_DATABASE_POOL_SIZE', fallback('TOKEND_DATABASE_POOL_SIZE'), 1, 1000),
    databaseTimeoutMs: integer('TOKEND_DATABASE_TIMEOUT_MS', fallback('TOKEND_DATABASE_TIMEOUT_MS'), 100, 600_000),
    sweepIntervalSeconds: integer('TOKEND_SWEEP_INTERVAL', fallback('TOKEND_SWEEP_INTERVAL'), 0, 86_400),
    metricsToken,
    forwardAuthRules: forwardAuthRules(read('TOKEND_FORWARD_AUTH_RULES')),
    trustProxy: Object.freeze(
      fallback('TOKEND_TRUST_PROXY')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  };
  return Object.freeze(config);
}

/** The issuer to use once the listening port is known. */
export function resolveIssuer(config: Config, port: number): string {
  if (config.issuer !== null) return config.issuer;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}
