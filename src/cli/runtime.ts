import { readFileSync } from 'node:fs';
import { ensureDefaultApp } from '../core/apps.js';
import type { Core } from '../core/context.js';
import { createCore } from '../core/create.js';
import { systemClock } from '../core/clock.js';
import { CoreObserver } from '../core/observer.js';
import { MemoryLimiter } from '../core/rate-limit.js';
import { RedisBus } from '../cluster/redis-bus.js';
import { RedisLimiter } from '../cluster/redis-limiter.js';
import { ConfigError, loadConfig, resolveIssuer, SETTINGS, type Config } from '../config.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Command-line flags as the env var names they stand for, e.g. `--database-url` → TOKEND_DATABASE_URL. */
export function flagsToEnv(options: Record<string, unknown>): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const setting of SETTINGS) {
    const key = setting.flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const value = options[key];
    if (value !== undefined) overrides[setting.env] = String(value);
  }
  return overrides;
}

export interface Runtime {
  config: Config;
  store: Store;
  core: Core;
  close(): Promise<void>;
}

/**
 * Opens the store named by the configuration, migrates it, loads the keys and
 * makes the `default` app on an empty store, printing its secret once: this is
 * "first start", whichever command comes first.
 */
export interface RuntimeOptions {
  overrides?: Record<string, string>;
  issuerPort?: number;
  quiet?: boolean;
  /** Join the cluster through TOKEND_REDIS_URL (revocation fan-out, shared limits): the server does; one-shot commands need not. */
  cluster?: boolean;
  onError?: (error: unknown) => void;
}

export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const config = loadConfig(process.env, options.overrides);
  const store = openStore(config.databaseUrl, {
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseTimeoutMs,
    connectTimeoutMs: Math.max(100, Math.floor(config.databaseTimeoutMs / 2)),
  });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw new Error(`could not open the store at ${describeUrl(config.databaseUrl)}: ${(error as Error).message}`);
  }
  const onError = options.onError ?? (() => {});
  const clock = systemClock;
  const redis = options.cluster && config.redisUrl !== null ? config.redisUrl : null;
  // Made before the core so the bus can report its fan-out lag into it.
  const observer = new CoreObserver(onError);
  const bus = redis === null ? undefined : await RedisBus.connect({ url: redis, onError, onLag: (ms) => observer.fanOutLag(ms / 1000) });
  const limiter = redis === null ? undefined : RedisLimiter.connect(redis, new MemoryLimiter(clock), onError);
  const core = await createCore({
    settings: { issuer: resolveIssuer(config, options.issuerPort ?? config.port), env: config.env, adminToken: config.adminToken, loginLimits: config.loginLimits },
    store,
    clock,
    hashing: { concurrency: config.hashConcurrency, queue: config.hashQueue },
    onError,
    observer,
    ...(bus !== undefined && { bus }),
    ...(limiter !== undefined && { limiter }),
  });
  const created = await ensureDefaultApp(core);
  if (created !== null) {
    const say = options.quiet ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => process.stdout.write(`${line}\n`);
    say('tokend: first start on an empty store: created the app "default".');
    say('Save its client secret now; it is stored only as a hash and never shown again.');
    say(`  client_id:     ${created.app.clientId}`);
    say(`  client_secret: ${created.clientSecret}`);
  }
  return {
    config,
    store,
    core,
    async close() {
      await core.usage.stop();
      await bus?.close();
      await limiter?.close();
      await store.close();
    },
  };
}

/** A database URL fit to print: no password. */
export function describeUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

/** Runs a command body, turning known failures into one line on stderr and an exit code. */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    process.stderr.write(`tokend: ${message}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  }
}
