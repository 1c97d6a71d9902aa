import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DOORS } from '../../src/core/observer.js';
import { mintSecret } from '../../src/core/tokens.js';
import { buildApp } from '../../src/http/app.js';
import { basic, createUser, json, login, me, postForm, refresh, startHarness, type Harness } from '../helpers/harness.js';

/** SPEC §10: GET /metrics in the Prometheus text format, counted from what the core reports. */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text exposition format, one sample per line; comments skipped. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match !== null, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of every series of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(h: Harness, headers: Record<string, string> = {}): Promise<{ text: string; samples: Sample[] }> {
  const response = await h.app.inject({ method: 'GET', url: '/metrics', headers });
  assert.equal(response.statusCode, 200, response.body);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return { text: response.body, samples: parse(response.body) };
}

const USER = { username: 'metrics-user-qz7', password: 'metrics password 81k' };

describe('GET /metrics after traffic through every kind of door', () => {
  let h: Harness;
  let text: string;
  let samples: Sample[];
  /** Every secret and identifier the traffic produced: none may appear in the metrics. */
  const secrets: string[] = [];

  before(async () => {
    h = await startHarness();
    await createUser(h, USER.username, USER.password);
    const client = { authorization: basic(h.clientId, h.clientSecret) };
    secrets.push(USER.username, USER.password, h.clientId, h.clientSecret);

    const first = await login(h, USER);
    const second = json<{ access_token: string; refresh_token: string }>(await refresh(h, first.refresh_token));
    secrets.push(first.access_token, first.refresh_token, second.access_token, second.refresh_token);
    for (let i = 0; i < 3; i += 1) assert.equal((await me(h, second.access_token)).statusCode, 200);
    const unknown = mintSecret('access');
    secrets.push(unknown);
    for (const presented of ['not-a-token', unknown, unknown]) assert.equal((await me(h, presented)).statusCode, 401);
    assert.equal((await postForm(h, '/oauth/revoke', { token: second.refresh_token }, client)).statusCode, 200);
    assert.equal((await me(h, second.access_token)).statusCode, 401, 'the session died with its refresh token');

    const service = json<{ access_token: string }>(await postForm(h, '/oauth/token', { grant_type: 'client_credentials' }, client));
    const introspected = json<{ active: boolean; jti: string }>(await postForm(h, '/oauth/introspect', { token: service.access_token }, client));
    assert.equal(introspected.active, true);
    assert.equal((await postForm(h, '/oauth/revoke', { token: service.access_token }, client)).statusCode, 200);
    secrets.push(service.access_token, introspected.jti);

    const device = await h.app.inject({ method: 'POST', url: `/v1/oauth/?${new URLSearchParams({ ...USER, 'device-info': 'Pixel 8' })}` });
    assert.equal(device.statusCode, 200, device.body);
    secrets.push(json(device).data.access_token);

    const jsonApi = (body: unknown) =>
      h.app.inject({ method: 'POST', url: '/api/auth/v1/access_tokens', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    const loggedIn = await jsonApi(USER);
    assert.equal(loggedIn.statusCode, 201, loggedIn.body);
    const { id, attributes } = json(loggedIn).data[0];
    const renewed = await jsonApi({ grant_type: 'refresh_token', refresh_token: attributes.refresh_token });
    assert.equal(renewed.statusCode, 201, renewed.body);
    secrets.push(id, attributes.access_token, attributes.refresh_token, json(renewed).data[0].attributes.refresh_token);

    const wrong = await postForm(h, '/oauth/token', { grant_type: 'password', username: USER.username, password: 'not it', client_id: h.clientId, client_secret: h.clientSecret });
    assert.equal(wrong.statusCode, 400, wrong.body);

    ({ text, samples } = await scrape(h));
  });
  after(() => h.close());

  test('issued tokens are counted by kind and door, refreshes apart', () => {
    const issued = (kind: string, door: string) => total(samples, 'tokend_tokens_issued_total', { kind, door });
    assert.equal(issued('access', 'oauth'), 2, 'a password grant and a client_credentials grant');
    assert.equal(issued('refresh', 'oauth'), 1);
    assert.equal(issued('access', 'v1-oauth'), 1);
    assert.equal(issued('refresh', 'v1-oauth'), 0, 'seed 004 issues no refresh token');
    assert.equal(issued('access', 'jsonapi'), 1);
    assert.equal(issued('refresh', 'jsonapi'), 1);
    assert.equal(total(samples, 'tokend_tokens_issued_total'), 6);
    assert.equal(total(samples, 'tokend_tokens_refreshed_total', { door: 'oauth' }), 1);
    assert.equal(total(samples, 'tokend_tokens_refreshed_total', { door: 'jsonapi' }), 1);
  });

  test('a revoked refresh token counts as a session, a revoked access token by its kind', () => {
    assert.equal(total(samples, 'tokend_tokens_revoked_total', { kind: 'session', door: 'oauth' }), 1);
    assert.equal(total(samples, 'tokend_tokens_revoked_total', { kind: 'access', door: 'oauth' }), 1);
    assert.equal(total(samples, 'tokend_tokens_revoked_total'), 2);
  });

  test('verifications are counted by kind, door and result', () => {
    const verified = (kind: string, door: string, result: string) => total(samples, 'tokend_tokens_verified_total', { kind, door, result });
    assert.equal(verified('access', 'self-service', 'valid'), 3);
    assert.equal(verified('access', 'self-service', 'invalid'), 3, 'two unknown tokens and one revoked');
    assert.equal(verified('unknown', 'self-service', 'invalid'), 1, 'a string with no token prefix');
    assert.equal(verified('access', 'oauth', 'valid'), 1, 'the introspection');
    assert.equal(total(samples, 'tokend_tokens_verified_total'), 8);
    assert.equal(total(samples, 'tokend_logins_failed_total', { reason: 'wrong_password' }), 1);
  });

  test('the latency histogram has one observation per verification, split by cache', () => {
    const count = (cached: string) => total(samples, 'tokend_verification_duration_seconds_count', { cached });
    assert.equal(count('true'), 2, 'the second and third /v1/me with the same token');
    assert.equal(count('true') + count('false'), total(samples, 'tokend_tokens_verified_total'));
    assert.ok(total(samples, 'tokend_verification_duration_seconds_sum') > 0);
    const buckets = samples.filter((s) => s.name === 'tokend_verification_duration_seconds_bucket' && s.labels.cached === 'false');
    assert.equal(buckets.find((s) => s.labels.le === '+Inf')?.value, count('false'));
    for (let i = 1; i < buckets.length; i += 1) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'buckets are cumulative');
  });

  test('cache hits and misses are the cache’s own counts', () => {
    assert.equal(total(samples, 'tokend_verification_cache_hits_total'), h.core.cache.hits);
    assert.equal(total(samples, 'tokend_verification_cache_misses_total'), h.core.cache.misses);
    assert.equal(h.core.cache.hits, 2);
    assert.equal(total(samples, 'tokend_verification_cache_entries'), h.core.cache.size);
    assert.equal(total(samples, 'tokend_revocation_delivery_trusted'), 1, 'one node without Redis always hears its revocations');
    assert.equal(total(samples, 'tokend_password_hashes_pending'), 0, 'no login in progress');
    assert.equal(total(samples, 'tokend_password_hashes_dropped_total'), 0);
  });

  test('prom-client’s default process metrics are there', () => {
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(samples.some((s) => s.name === name), name);
    }
  });

  test('no label or value holds a token, secret, id or username; label values come from small fixed sets', () => {
    for (const secret of secrets) assert.ok(!text.includes(secret), `the metrics contain ${secret.slice(0, 12)}…`);
    const allowed: Record<string, readonly string[]> = {
      kind: ['access', 'refresh', 'service', 'install', 'api', 'session', 'user', 'app', 'master-key', 'unknown'],
      door: DOORS,
      result: ['valid', 'invalid'],
      cached: ['true', 'false'],
      reason: ['unknown_user', 'wrong_password', 'disabled', 'rate_limited', 'other'],
      outcome: ['replayed', 'session_revoked'],
    };
    for (const sample of samples.filter((s) => s.name.startsWith('tokend_'))) {
      for (const [key, value] of Object.entries(sample.labels)) {
        if (key === 'le') assert.ok(value === '+Inf' || Number.isFinite(Number(value)), value);
        else assert.ok(allowed[key]?.includes(value), `${sample.name}{${key}="${value}"}`);
      }
    }
  });

  test('the fan-out lag the bus reports lands in the lag histogram', async () => {
    h.core.observer.fanOutLag(0.004);
    h.core.observer.fanOutLag(0.2);
    const { samples: after } = await scrape(h);
    assert.equal(total(after, 'tokend_revocation_fanout_lag_seconds_count'), 2);
    assert.ok(Math.abs(total(after, 'tokend_revocation_fanout_lag_seconds_sum') - 0.204) < 1e-9);
    assert.equal(total(after, 'tokend_revocation_fanout_lag_seconds_bucket', { le: '0.005' }), 1);
  });
});

describe('GET /metrics per app', () => {
  let a: Harness;
  let b: Harness;
  before(async () => {
    [a, b] = await Promise.all([startHarness(), startHarness()]);
    await createUser(a, USER.username, USER.password);
  });
  after(() => Promise.all([a.close(), b.close()]));

  test('two apps in one process keep their own counts', async () => {
    await login(a, USER);
    const counted = (await scrape(a)).samples;
    const other = (await scrape(b)).samples;
    assert.equal(total(counted, 'tokend_tokens_issued_total'), 2);
    assert.equal(total(other, 'tokend_tokens_issued_total'), 0);
    assert.ok(other.some((s) => s.name === 'process_cpu_user_seconds_total'), 'each app shows the process metrics');
  });

  test('a reused refresh token counts as reuse and as a revoked session, through its door', async () => {
    await createUser(b, USER.username, USER.password);
    const first = await login(b, USER);
    assert.equal((await refresh(b, first.refresh_token)).statusCode, 200);
    assert.equal((await refresh(b, first.refresh_token)).statusCode, 400, 'no grace window by default: this is reuse');
    const { samples } = await scrape(b);
    assert.equal(total(samples, 'tokend_refresh_reuse_total', { outcome: 'session_revoked', door: 'oauth' }), 1);
    assert.equal(total(samples, 'tokend_tokens_revoked_total', { kind: 'session', door: 'oauth' }), 1);
    assert.equal(total(samples, 'tokend_tokens_refreshed_total'), 1);
  });

  test('with a metrics token set, /metrics answers 401 without it and 200 with it', async () => {
    const token = 'metrics-token-0123456789abcdefghijklmnop';
    const guarded = await buildApp({ core: a.core, logLevel: 'silent', metricsToken: token });
    try {
      for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${token}`, `Bearer ${token}x`]) {
        const refused = await guarded.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } });
        assert.equal(refused.statusCode, 401, String(authorization));
        assert.equal(json(refused).error, 'invalid_token');
        assert.match(String(refused.headers['www-authenticate']), /^Bearer /);
      }
      const allowed = await guarded.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      assert.equal(allowed.statusCode, 200);
      assert.match(allowed.body, /^# HELP tokend_/m);
    } finally {
      await guarded.close();
    }
  });
});
