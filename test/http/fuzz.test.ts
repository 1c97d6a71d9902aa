import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_TOKEN, adminRequest, basic, createClient, createUser, json, login, me, startHarness, type Harness } from '../helpers/harness.js';

/**
 * SPEC §9, property-based: every route, fed hostile bodies, queries, content
 * types, credentials and headers, never answers 5xx, answers errors in its own
 * door's shape without a stack trace, and a rejected request writes nothing.
 * `FUZZ_SEED=<n>` replays a run; the seed is printed on every run.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 60);
const statuses = new Map<number, number>();
const TABLES = ['apps', 'users', 'sessions', 'tokens', 'master_keys', 'operator_tokens', 'signing_keys'] as const;
const TOUCHED = new Set(['last_used_at']); // bookkeeping that authenticating a request may bump; not a write of the request's own

let h: Harness;
const real: Record<string, string> = {};
const creds = { username: 'fuzz-owner', password: 'fuzz owner password 1' };

async function ensureCredentials(): Promise<void> {
  if (real.access !== undefined && (await me(h, real.access)).statusCode === 200 && (await me(h, real.api!, 'Token')).statusCode === 200) return;
  await adminRequest(h, 'PATCH', `/users/${real.ownerId}`, { disabled: false, password: creds.password });
  const tokens = await login(h, creds);
  real.access = tokens.access_token;
  real.refresh = tokens.refresh_token;
  real.ownerSession = json(await me(h, tokens.access_token)).token.session_id;
  const api = await h.app.inject({ method: 'POST', url: '/v1/api-tokens', headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' }, payload: '{"name":"fuzz"}' });
  real.api = json(api).token;
}

before(async () => {
  h = await startHarness({ settings: { loginLimits: { perUser: 1_000_000, perIp: 1_000_000, windowSeconds: 900 } } });
  real.ownerId = String((await createUser(h, creds.username, creds.password)).id);
  await ensureCredentials();
  // Victims: what real ids in paths point at, so the owner's credentials survive a lucky DELETE.
  const victim = await createUser(h, 'fuzz-victim', 'fuzz victim password');
  const app = await createClient(h, { name: 'fuzz victim app' });
  const victimLogin = await login(h, victim, {}, app);
  const victimMe = json(await me(h, victimLogin.access_token)).token;
  const key = json(await adminRequest(h, 'POST', `/apps/${app.id}/master-keys`, { name: 'k' }));
  Object.assign(real, {
    victimId: String(victim.id), victimApp: app.id, victimClient: app.clientId, victimSession: victimMe.session_id, victimToken: victimMe.id,
    masterKey: key.key, masterKeyId: key.id, victimAccess: victimLogin.access_token,
  });
  console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${RUNS_PER_ROUTE} runs per route`);
});
after(async () => {
  console.log(`fuzz statuses (seed ${SEED}):`, JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b))));
  await h.close();
});

/** A hash of every row of every table but audit_events, bookkeeping columns left out. */
async function snapshot(): Promise<Record<string, string>> {
  const db = (h.store as any).db;
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows: Array<Record<string, unknown>> = await db.selectFrom(table).selectAll().orderBy(table === 'signing_keys' ? 'kid' : 'id').execute();
    const kept = rows.map((row) => Object.entries(row).filter(([k]) => !TOUCHED.has(k)));
    out[table] = `${rows.length}:${createHash('sha256').update(JSON.stringify(kept)).digest('hex').slice(0, 16)}`;
  }
  return out;
}

type Shape = 'oauth' | 'detail' | 'jsonapi' | 'v1-oauth';
interface Route { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; shape: Shape }
const r = (method: Route['method'], path: string, shape: Shape = 'oauth'): Route => ({ method, path, shape });
/** Every route of `h.app.printRoutes()` but docs and metrics (static, no input); HEAD is GET without a body. */
const ROUTES: Route[] = [
  r('POST', '/oauth/token'), r('POST', '/oauth/revoke'), r('POST', '/oauth/introspect'),
  r('GET', '/.well-known/oauth-authorization-server'), r('GET', '/.well-known/jwks.json'), r('GET', '/healthz'), r('GET', '/readyz'),
  r('GET', '/v1/me'), r('GET', '/v1/sessions'), r('DELETE', '/v1/sessions/:id'), r('POST', '/v1/logout'), r('POST', '/v1/leaked-tokens'),
  r('POST', '/v1/api-tokens'), r('GET', '/v1/api-tokens'), r('DELETE', '/v1/api-tokens/:id'),
  r('POST', '/admin/v1/apps'), r('GET', '/admin/v1/apps'), r('GET', '/admin/v1/apps/:id'), r('PATCH', '/admin/v1/apps/:id'), r('DELETE', '/admin/v1/apps/:id'),
  r('POST', '/admin/v1/apps/:id/secret'), r('POST', '/admin/v1/apps/:id/master-keys'), r('GET', '/admin/v1/apps/:id/master-keys'),
  r('GET', '/admin/v1/audit'), r('DELETE', '/admin/v1/master-keys/:id'),
  r('POST', '/admin/v1/users'), r('GET', '/admin/v1/users'), r('GET', '/admin/v1/users/:id'), r('PATCH', '/admin/v1/users/:id'), r('DELETE', '/admin/v1/users/:id'),
  r('GET', '/admin/v1/users/:id/sessions'), r('POST', '/admin/v1/users/:id/api-tokens'), r('DELETE', '/admin/v1/sessions/:id'),
  r('GET', '/admin/v1/signing-keys'), r('POST', '/admin/v1/signing-keys/rotate'), r('GET', '/admin/v1/tokens'), r('DELETE', '/admin/v1/tokens/:id'),
  r('POST', '/api/auth/v1.0/get_token', 'detail'), r('POST', '/api/auth/v1.0/revoke_token', 'detail'), r('GET', '/v3/users/token', 'detail'),
  r('POST', '/api/auth/v1/access_tokens', 'jsonapi'), r('DELETE', '/api/auth/v1/access_tokens/:id', 'jsonapi'), r('POST', '/v1/oauth', 'v1-oauth'),
];

// ---- arbitraries -------------------------------------------------------------------------------

/** Percent-encodes any string, lone surrogates included (encodeURIComponent throws on those). */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
/** A placeholder resolved when the request is made, since real secrets change as the fuzz revokes them. */
const realRef = (...names: string[]) => fc.constantFrom(...names).map((n) => ({ ref: n }));
type Val = string | { ref: string };
const resolve = (v: Val) => (typeof v === 'string' ? v : real[v.ref] ?? '');

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\ud800', 'a\udfffb', '\u0000', 'Zoe\u0308', 'ALICE', '%00', '../../etc/passwd', "' OR 1=1 --", 'default', '1e309', '-1', '0'),
  fc.integer({ min: 65_536 - 64, max: 65_536 + 64 }).map((n) => 'x'.repeat(n - 20)),
);
const idArb: fc.Arbitrary<Val> = fc.oneof(
  realRef('victimId', 'victimApp', 'victimClient', 'victimSession', 'victimToken', 'masterKeyId', 'ownerSession'),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.nat().map(String),
  fc.constantFrom('0', '-1', '99999999999999999999999', 'x'.repeat(300), '...', 'null'),
).filter((v) => !['', '.', '..'].includes(v as string)); // these resolve to another route (trailing slash ignored, dot segments)
const FIELDS = ['grant_type', 'username', 'password', 'client_id', 'client_secret', 'scope', 'refresh_token', 'token', 'Token', 'tokens', 'token_type_hint',
  'name', 'scopes', 'grants', 'expires_in', 'app_id', 'disabled', 'access_token_ttl', 'refresh_reuse_grace_seconds', 'deeplink_template', 'audience',
  'access_token_format', 'device-info', 'device_info', 'debug', 'data', 'attributes', 'type', 'installid', 'app_key', 'qr', 'limit', 'cursor', 'kind',
  'user_id', 'since', 'action', '__proto__', 'constructor', 'prototype'];
const GRANTS = fc.constantFrom('password', 'refresh_token', 'client_credentials', 'authorization_code', 'PASSWORD');
/** Secrets that may appear in a body. Refresh tokens are left out: replaying a spent one revokes its session on purpose (reuse detection). */
const realValue: fc.Arbitrary<Val> = fc.oneof(
  realRef('access', 'api', 'victimAccess', 'masterKey', 'victimClient', 'victimApp', 'victimId'),
  fc.constantFrom(creds.username, creds.password, 'fuzz-victim', ADMIN_TOKEN),
  GRANTS,
);
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(realValue, hostileString, fc.jsonValue({ maxDepth: 3 }), fc.integer(), fc.double(), fc.boolean());
const resolveDeep = (v: unknown): unknown =>
  v !== null && typeof v === 'object' && 'ref' in (v as object) && Object.keys(v as object).length === 1 ? resolve(v as Val) : v;

/** A JSON body as text, so `__proto__` keys and lone-surrogate escapes reach the parser verbatim. */
const jsonBody = fc.oneof(
  fc.jsonValue().map((v) => () => JSON.stringify(v)),
  fc.array(fc.tuple(fc.constantFrom(...FIELDS), fieldValue), { maxLength: 8 }).map((pairs) => () =>
    `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(resolveDeep(v)) ?? 'null'}`).join(',')}}`),
  fc.tuple(fc.constantFrom('[', '{"a":'), fc.integer({ min: 50, max: 20_000 })).map(([open, n]) => () => open.repeat(n) + '1' + (open === '[' ? ']' : '}').repeat(n)),
  fc.constantFrom('{"__proto__":{"admin":true},"name":"p"}', '{"constructor":{"prototype":{"isAdmin":true}}}', '{"a":1,"a":2}', '{"name":"\\ud800"}', '{', '', 'null', '"\\udfff"').map((s) => () => s),
  fc.integer({ min: 65_536 - 200, max: 65_536 + 200 }).map((n) => () => `{"name":"${'n'.repeat(n - 11)}"}`),
);
const encodePair = fc.constantFrom<(s: string) => string>(pct, (s) => s, (s) => s.replace(/ /g, '+'), () => '%zz', () => '%E0%A4%A');
const formPairs = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })), fc.oneof(realValue, hostileString), encodePair),
  { maxLength: 8 },
).map((pairs) => () => pairs.map(([k, v, enc]) => `${enc(k)}=${enc(resolve(v))}`).join('&'));
const formBody = fc.oneof(formPairs, formPairs.map((f) => () => { const s = f(); return s === '' ? 'grant_type=a&grant_type=b' : `${s}&${s}`; }));
const rawBody = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => () => Buffer.from(b)),
  fc.constant(() => '--xyz\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\npassword\r\n--xyz--\r\n'),
);
const contentType = fc.oneof(
  fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/vnd.api+json',
    'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'multipart/form-data; boundary=xyz', 'text/plain',
    'application/xml', 'application/octet-stream', '', 'application/json, text/plain', 'APPLICATION/JSON'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
);
const query = fc.oneof(fc.constant(''), formPairs.map((f) => () => `?${f()}`), fc.constantFrom('?a=1&a=1', '?%zz=%%', '?limit=-1', '?limit=1e9', '?kind[]=x', '?qr=svg&app_key=x&installid='));
const authorization: fc.Arbitrary<(() => string) | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.tuple(fc.constantFrom('Bearer', 'Token', 'bearer', 'Basic', 'Digest', ''), fc.oneof(realRef('access', 'api', 'refresh', 'masterKey', 'victimAccess'), fc.constant(ADMIN_TOKEN), fc.string({ unit: 'grapheme-ascii', maxLength: 60 })))
    .map(([scheme, v]) => () => `${scheme} ${resolve(v as Val)}`),
  fc.tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 20 }), fc.string({ unit: 'grapheme-ascii', maxLength: 20 })).map(([a, b]) => () => basic(a, b)),
  fc.constant(() => basic(h.clientId, h.clientSecret)),
  fc.string({ unit: 'grapheme-ascii', maxLength: 80 }).map((s) => () => s),
  fc.integer({ min: 8_000, max: 16_000 }).map((n) => () => `Bearer ${'x'.repeat(n)}`),
);
const extraHeaders = fc.dictionary(
  fc.constantFrom('user-agent', 'x-forwarded-for', 'accept', 'accept-charset', 'content-encoding', 'x-request-id', 'cookie', 'origin', 'x-junk'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
  { maxKeys: 3 },
);

const requestArb = (route: Route) =>
  fc.record({
    admin: fc.double({ min: 0, max: 1, noNaN: true }),
    id: idArb,
    slash: fc.boolean(),
    query,
    contentType,
    body: fc.oneof(jsonBody, formBody, rawBody, fc.constant(undefined)),
    authorization,
    headers: extraHeaders,
  }).map((req) => ({ ...req, route }));

// ---- properties ---------------------------------------------------------------------------------

const STACK = /\bat [^\s]+ \(?(\/|file:|node:)|\.(ts|js):\d+:\d+|node_modules|\/work\/|src\/(http|core|store)\//;

function assertShape(route: Route, response: LightMyRequestResponse, what: string): void {
  assert.doesNotMatch(response.body, STACK, `stack trace or path: ${what}`);
  if (response.statusCode < 400) return;
  const body = JSON.parse(response.body);
  const isString = (v: unknown) => typeof v === 'string';
  const ok =
    route.shape === 'oauth' ? Object.keys(body).sort().join() === 'error,error_description' && isString(body.error) && isString(body.error_description)
    : route.shape === 'detail' ? Object.keys(body).join() === 'detail' && isString(body.detail)
    : route.shape === 'jsonapi' ? Array.isArray(body.errors) && body.errors.length > 0 && body.errors.every((e: any) => ['status', 'code', 'title', 'detail'].every((k) => isString(e[k])))
    : body.success === false && isString(body.errors?.code) && isString(body.errors?.message);
  assert.ok(ok, `not the ${route.shape} error shape: ${what}`);
}

describe('fuzzing every endpoint with hostile input', () => {
  for (const [index, route] of ROUTES.entries()) {
    test(`${route.method} ${route.path}: never 5xx, errors in the door's shape, rejected requests write nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(requestArb(route), async (req) => {
          const isAdmin = route.path.startsWith('/admin/');
          const url = route.path.replace(':id', () => { const v = resolve(req.id); return typeof req.id === 'string' ? pct(v) : v; }) + (req.slash ? '/' : '') + (typeof req.query === 'string' ? req.query : req.query());
          const headers: Record<string, string> = { ...req.headers };
          if (req.contentType !== undefined) headers['content-type'] = req.contentType;
          // A share of requests carries the right credential, so the fuzz reaches past authentication.
          const auth = req.admin < 0.5 ? (isAdmin ? `Bearer ${ADMIN_TOKEN}` : route.path.startsWith('/v1/') || route.path.startsWith('/v3/') ? `Bearer ${real.access}` : route.path.startsWith('/api/auth/v1.0/') ? `Token ${real.masterKey}` : req.authorization?.()) : req.authorization?.();
          if (auth !== undefined) headers.authorization = auth;
          const payload = req.body?.();
          const beforeRows = await snapshot();
          const response = await h.app.inject({ method: route.method, url, headers, ...(payload !== undefined && { payload }) });
          const what = `${route.method} ${url.slice(0, 120)} [${String(req.contentType)}] ${String(payload ?? '').slice(0, 120)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          assert.ok(response.statusCode < 500, `5xx: ${what}`);
          assertShape(route, response, what);
          if (response.statusCode >= 400) assert.deepEqual(await snapshot(), beforeRows, `a rejected request wrote to the store: ${what}`);
          else if (route.method !== 'GET') await ensureCredentials();
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED + index, endOnFailure: false },
      );
    });
  }
});
