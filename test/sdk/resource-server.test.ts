import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { parseForwardAuthRules } from '../../src/core/forward-auth-rules.js';
import { buildApp } from '../../src/http/app.js';
import { ADMIN_TOKEN, ISSUER, basic, json, login, postForm } from '../helpers/harness.js';
import { exited, startServer, type Running } from '../helpers/serve.js';
import { jwtLogin, seedCast, startTokend, within, type Tokend } from './tokend.js';

/**
 * examples/resource-server as a real process (importing `tokend/sdk`, the
 * built package) in front of a real tokend; then nginx from Debian's packages
 * in front of it, asking tokend's /v1/forward-auth through `auth_request`.
 */

const ROOT = join(import.meta.dirname, '../..');
/** Debian puts nginx in /usr/sbin, which is not on every PATH. */
const NGINX = ['/usr/sbin/nginx', ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'nginx'))].find((path) => existsSync(path)) ?? '/usr/sbin/nginx';
const INSTALL = 'c12b156b-8592-4545-989b-4468a3936983';
const RULES = {
  rules: [
    { path: '/v3/tooltips', methods: ['GET'], kinds: ['install', 'access', 'api'], install_tokens_in_query: true },
    { path: '/api/assets', kinds: ['access'], scopes: ['assets:read'] },
    { path: '/api/data/*', kinds: ['service'] },
  ],
};

let t: Tokend;
let cast: Awaited<ReturnType<typeof seedCast>>;
let example: Running;
let tokens: { jwt: string; noScope: string; service: string; install: string };

before(async () => {
  // The example imports `tokend/sdk`, i.e. dist/sdk: build it from the sources under test.
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'sdk/tsconfig.json')], { cwd: ROOT });
  t = await startTokend();
  cast = await seedCast(t.h);
  example = await startServer({
    args: [join(ROOT, 'examples/resource-server/main.ts')],
    env: { TOKEND_URL: t.url, TOKEND_ISSUER: ISSUER, TOKEND_OPERATOR_TOKEN: ADMIN_TOKEN, PORT: '0' },
  });
  // Give the example's verifier its feed epoch, then issue tokens inside it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.h.clock.advance(6000);
  const minted = await t.h.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${cast.masterKey}` } });
  const { access_token: userToken } = await login(t.h, cast.alice);
  const install = await t.h.app.inject({ method: 'GET', url: `/v3/users/token?app_key=${t.h.clientId}&installid=${INSTALL}`, headers: { authorization: `Bearer ${userToken}` } });
  tokens = {
    jwt: (await jwtLogin(t.h, cast.alice, cast.jwtApp)).access_token,
    noScope: (await jwtLogin(t.h, cast.alice, cast.jwtApp, 'assets:write')).access_token,
    service: json<{ token: string }>(minted).token,
    install: json<{ token: string }>(install).token,
  };
});
after(async () => {
  example?.child.kill('SIGTERM');
  if (example !== undefined) await exited(example.child);
  await t?.close();
});

const get = (base: string, path: string, token?: string) => fetch(`${base}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe('examples/resource-server, end to end', () => {
  test('GET /v3/tooltips takes an install token in the query, bound to its install id (seed 002)', async () => {
    const ok = await get(example.url, `/v3/tooltips?installid=${INSTALL}&token=${tokens.install}`);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { caller: { kind: string } }).caller.kind, 'install');
    assert.equal(ok.headers.get('cache-control'), 'private, no-store', 'RFC 6750 §2.3: a token in the URL makes the answer private');
    assert.equal((await get(example.url, `/v3/tooltips?installid=another&token=${tokens.install}`)).status, 401);
    assert.equal((await get(example.url, `/api/assets?token=${tokens.jwt}`)).status, 401, 'no tokens in the query elsewhere');
  });

  test('GET /api/assets wants an access token with assets:read (seed 003)', async () => {
    const ok = await get(example.url, '/api/assets', tokens.jwt);
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as { caller: { scopes: string[] } }).caller.scopes, ['assets:read']);
    const scope = await get(example.url, '/api/assets', tokens.noScope);
    assert.equal(scope.status, 403);
    assert.match(scope.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    assert.equal((await get(example.url, '/api/assets')).status, 401);
  });

  test('GET /api/data/v1/records wants a service token (seed 000)', async () => {
    const ok = await get(example.url, '/api/data/v1/records', tokens.service);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { caller: { kind: string; user_id: string | null } }).caller.user_id, null);
    assert.equal((await get(example.url, '/api/data/v1/records', tokens.jwt)).status, 401);
  });

  test('a JWT revoked at tokend is refused by the example within 1 s', async () => {
    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    assert.equal((await get(example.url, '/api/assets', access_token)).status, 200);
    await postForm(t.h, '/oauth/revoke', { token: access_token }, { authorization: basic(cast.jwtApp.clientId, cast.jwtApp.clientSecret) });
    const elapsed = await within(1000, async () => (await get(example.url, '/api/assets', access_token)).status === 401);
    console.log(`# revoked JWT refused by the example server after ${elapsed?.toFixed(1)} ms`);
    assert.ok(elapsed !== null);
  });
});

/** A port nothing listens on right now. */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

function nginxConfig(dir: string, port: number, tokendPort: number, apiPort: number): string {
  return `
worker_processes 1;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /_tokend_auth {
      internal;
      proxy_pass http://127.0.0.1:${tokendPort}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }
    location / {
      auth_request /_tokend_auth;
      auth_request_set $tokend_user $upstream_http_x_tokend_user_id;
      auth_request_set $tokend_client $upstream_http_x_tokend_client_id;
      auth_request_set $tokend_scopes $upstream_http_x_tokend_scopes;
      auth_request_set $tokend_kind $upstream_http_x_tokend_token_kind;
      proxy_set_header X-Tokend-User-Id $tokend_user;
      proxy_set_header X-Tokend-Client-Id $tokend_client;
      proxy_set_header X-Tokend-Scopes $tokend_scopes;
      proxy_set_header X-Tokend-Token-Kind $tokend_kind;
      proxy_pass http://127.0.0.1:${apiPort};
    }
  }
}
`;
}

describe('nginx auth_request in front of the example, asking tokend', { skip: existsSync(NGINX) ? false : `${NGINX} is missing: .ci/run installs nginx from Debian's packages` }, () => {
  let dir: string;
  let nginx: ChildProcess;
  let forwardAuth: FastifyInstance;
  let proxyUrl: string;

  before(async () => {
    // tokend with the example's route rules, as TOKEND_FORWARD_AUTH_RULES would give it.
    forwardAuth = await buildApp({ core: t.h.core, logLevel: 'silent', forwardAuthRules: parseForwardAuthRules(JSON.stringify(RULES)) });
    await forwardAuth.listen({ host: '127.0.0.1', port: 0 });
    const tokendPort = (forwardAuth.server.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'tokend-nginx-'));
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, tokendPort, Number(new URL(example.url).port)));
    nginx = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: 'ignore' });
    const up = await within(10_000, () => listening(port));
    assert.ok(up !== null, `nginx did not start: ${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`);
    proxyUrl = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    nginx?.kill('SIGTERM');
    if (nginx !== undefined) await exited(nginx);
    await forwardAuth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('allow: the upstream answers, and receives the identity headers tokend gave nginx', async () => {
    const response = await get(proxyUrl, '/api/assets', tokens.jwt);
    assert.equal(response.status, 200);
    const { caller } = (await response.json()) as { caller: { proxy: Record<string, string> } };
    assert.deepEqual(caller.proxy, { user_id: String(cast.alice.id), client_id: cast.jwtApp.clientId, scopes: 'assets:read', token_kind: 'access' });

    const service = (await (await get(proxyUrl, '/api/data/v1/records', tokens.service)).json()) as { caller: { proxy: Record<string, string> } };
    assert.deepEqual(service.caller.proxy, { user_id: '', client_id: cast.partner.clientId, scopes: '', token_kind: 'service' });

    const install = await get(proxyUrl, `/v3/tooltips?installid=${INSTALL}&token=${tokens.install}`);
    assert.equal(install.status, 200);
  });

  test('identity headers a client sends itself never reach the upstream', async () => {
    const response = await fetch(`${proxyUrl}/api/data/v1/records`, { headers: { authorization: `Bearer ${tokens.service}`, 'x-tokend-user-id': '999', 'x-tokend-scopes': 'admin' } });
    const { caller } = (await response.json()) as { caller: { proxy: Record<string, string> } };
    assert.equal(caller.proxy.user_id, '', 'an empty value from tokend drops the header, and the client\'s is not passed');
    assert.equal(caller.proxy.scopes, '');
  });

  test('deny: 401 without a live token and 403 without the scope, answered by nginx before the upstream is asked', async () => {
    // nginx's own error pages are HTML; the example API only ever answers JSON.
    const denied = async (path: string, token?: string): Promise<number> => {
      const response = await get(proxyUrl, path, token);
      assert.match(await response.text(), /<center>nginx/, `${path} reached the upstream`);
      return response.status;
    };
    assert.equal(await denied('/api/assets'), 401);
    assert.equal(await denied('/api/assets', 'tka_forged'), 401);
    assert.equal(await denied('/api/data/v1/records', tokens.jwt), 401);
    assert.equal(await denied(`/v3/tooltips?installid=another&token=${tokens.install}`), 401);
    assert.equal(await denied('/api/assets', tokens.noScope), 403);
    assert.equal(await denied('/healthz', tokens.jwt), 403, 'no rule covers it: denied');
  });
});
