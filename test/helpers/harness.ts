import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ensureDefaultApp } from '../../src/core/apps.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Core, CoreSettings } from '../../src/core/context.js';
import { createCore } from '../../src/core/create.js';
import type { App } from '../../src/core/model.js';
import { buildApp } from '../../src/http/app.js';
import { DEFAULT_POSTGRES_OPTIONS, openPostgresStore, type PostgresOptions } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { createTestDatabase } from './postgres.js';
import type { Store } from '../../src/store/store.js';

export const ADMIN_TOKEN = 'test-operator-token-0123456789abcdefghijklmnop';
export const ISSUER = 'http://tokend.test';

export interface Harness {
  app: FastifyInstance;
  core: Core;
  store: Store;
  clock: ManualClock;
  defaultApp: App;
  clientId: string;
  clientSecret: string;
  /** Everything the server logged, one JSON line each. */
  logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  settings?: Partial<CoreSettings>;
  hashing?: { concurrency: number; queue: number };
  /** Where the ManualClock starts (ms since the epoch); `Date.now()` lets outside verifiers that use the real clock agree with it. */
  startAt?: number;
  /** The real database under the store: SQLite in a temp dir (default) or a fresh Postgres database. */
  database?: 'sqlite' | 'postgres';
  /** With `database: 'postgres'`: use this database (e.g. through a proxy) instead of a fresh one, and these pool settings. */
  postgresUrl?: string;
  postgres?: Partial<PostgresOptions>;
  /** Proxy addresses whose X-Forwarded-For is believed (TOKEND_TRUST_PROXY). */
  trustProxy?: string[];
}

/** A real tokend over a real SQLite file in a temp dir, with a clock the test moves. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tokend-test-'));
  const postgres = options.database === 'postgres' && options.postgresUrl === undefined ? await createTestDatabase() : null;
  const postgresUrl = options.postgresUrl ?? postgres?.url;
  const store =
    postgresUrl === undefined
      ? openSqliteStore(join(dir, 'tokend.db'))
      : openPostgresStore(postgresUrl, { ...DEFAULT_POSTGRES_OPTIONS, ...options.postgres });
  await store.migrate();
  const clock = new ManualClock(options.startAt ?? Date.UTC(2026, 10, 1, 12));
  const core = await createCore({
    settings: {
      issuer: ISSUER,
      env: 'production',
      adminToken: ADMIN_TOKEN,
      loginLimits: { perUser: 5, perIp: 50, windowSeconds: 900 },
      ...options.settings,
    },
    store,
    clock,
    ...(options.hashing !== undefined && { hashing: options.hashing }),
  });
  const created = await ensureDefaultApp(core);
  if (created === null) throw new Error('a new store must get the default app');
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = await buildApp({ core, logLevel: 'info', logStream, ...(options.trustProxy !== undefined && { trustProxy: options.trustProxy }) });
  await app.ready();
  return {
    app,
    core,
    store,
    clock,
    defaultApp: created.app,
    clientId: created.app.clientId,
    clientSecret: created.clientSecret,
    logs,
    async close() {
      await app.close();
      await core.usage.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}

export const json = <T = any>(response: LightMyRequestResponse): T => JSON.parse(response.body) as T;

export const basic = (clientId: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** POST a form body. */
export function postForm(h: Harness, url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  });
}

export function adminRequest(h: Harness, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  return h.app.inject({
    method,
    url: `/admin/v1${url}`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(payload !== undefined && { 'content-type': 'application/json' }) },
    ...(payload !== undefined && { payload: JSON.stringify(payload) }),
  });
}

export async function createUser(h: Harness, username = 'alice', password = 'correct horse battery staple'): Promise<{ id: number; username: string; password: string }> {
  const response = await adminRequest(h, 'POST', '/users', { username, password });
  if (response.statusCode !== 201) throw new Error(`user not created: ${response.statusCode} ${response.body}`);
  return { ...json<{ id: number }>(response), username, password };
}

/** An app's credentials as a test holds them. */
export interface Client {
  id: string;
  clientId: string;
  clientSecret: string;
}

/** An app made through the operator API (`name` defaults to "partner"). */
export async function createClient(h: Harness, body: Record<string, unknown> = {}): Promise<Client> {
  const response = await adminRequest(h, 'POST', '/apps', { name: 'partner', ...body });
  if (response.statusCode !== 201) throw new Error(`app not created: ${response.statusCode} ${response.body}`);
  const app = json<{ id: string; client_id: string; client_secret: string }>(response);
  return { id: app.id, clientId: app.client_id, clientSecret: app.client_secret };
}

/** The raw answer to a password grant with client_secret_post. */
export function passwordGrant(
  h: Harness,
  user: { username: string; password: string },
  extra: Record<string, string> = {},
  client: { clientId: string; clientSecret: string } = h,
) {
  return postForm(h, '/oauth/token', {
    grant_type: 'password',
    username: user.username,
    password: user.password,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    ...extra,
  });
}

/** A password-grant login that must succeed; the default app unless `client` is given. */
export async function login(
  h: Harness,
  user: { username: string; password: string },
  extra: Record<string, string> = {},
  client: { clientId: string; clientSecret: string } = h,
) {
  const response = await passwordGrant(h, user, extra, client);
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return json<{ access_token: string; refresh_token: string; expires_in: number; token_type: string; scope?: string }>(response);
}

export function refresh(h: Harness, refreshToken: string, extra: Record<string, string> = {}, client: { clientId: string; clientSecret: string } = h) {
  return postForm(h, '/oauth/token', {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    ...extra,
  });
}

export function me(h: Harness, token: string, scheme = 'Bearer') {
  return h.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `${scheme} ${token}` } });
}
