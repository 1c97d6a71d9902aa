import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvalidCredentialsError, MemoryTokenStorage, ServiceTokenSource, SessionEndedError, UserSession, authorizedFetch, sessionProvider, type Fetch } from '../../sdk/index.js';
import { adminRequest, basic, json, postForm } from '../helpers/harness.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { seedCast, startTokend, within, type Tokend } from './tokend.js';

/** The SDK's client side against a real tokend on loopback, sharing tokend's clock so expiry needs no sleeping. */

let t: Tokend;
let cast: Awaited<ReturnType<typeof seedCast>>;
const DAY = 86_400_000;

before(async () => {
  t = await startTokend();
  cast = await seedCast(t.h);
});
after(() => t.close());

/** The real fetch, counting requests by path (and failures) so a test can see how many went out. */
function counting(): { fetch: Fetch; calls: (path: string) => number; failures: () => number } {
  const seen: string[] = [];
  let failed = 0;
  return {
    fetch: async (input, init) => {
      seen.push(new URL(String(input)).pathname);
      try {
        return await fetch(input, init);
      } catch (error) {
        failed++;
        throw error;
      }
    },
    calls: (path) => seen.filter((p) => p === path).length,
    failures: () => failed,
  };
}

const introspectAs = async (token: string, client: { clientId: string; clientSecret: string }) =>
  json<{ active: boolean }>(await postForm(t.h, '/oauth/introspect', { token }, { authorization: basic(client.clientId, client.clientSecret) }));

describe('ServiceTokenSource (seed 000)', () => {
  const GET_TOKEN = '/api/auth/v1.0/get_token/';

  test('renews once inside the last 10 % of the lifetime, however many callers ask, and keeps the previous token', async () => {
    const counter = counting();
    const source = new ServiceTokenSource({ baseUrl: t.url, masterKey: cast.masterKey, fetch: counter.fetch, clock: t.h.clock });
    const first = await source.token();
    assert.equal(await source.token(), first);
    t.h.clock.advance(26 * DAY);
    assert.equal(await source.token(), first, 'outside the lead: no renewal');
    assert.equal(counter.calls(GET_TOKEN), 1);

    t.h.clock.advance(1.5 * DAY); // 27.5 of 30 days: inside the 3-day lead
    const handedOut = await Promise.all(Array.from({ length: 20 }, () => source.token()));
    assert.ok(handedOut.every((token) => token === first), 'the current token serves until the new one is in hand');
    // Passing the token we hold: if the background renewal already replaced it, no second one starts.
    const renewed = await source.renew(first);
    assert.equal(counter.calls(GET_TOKEN), 2, 'one renewal for twenty callers');
    assert.notEqual(renewed.token, first);
    assert.equal(await source.token(), renewed.token);
    assert.equal(source.tokens().previous?.token, first);
    assert.equal((await introspectAs(first, cast.partner)).active, true, 'the previous token still works until its own expiry');
    source.close();
  });

  test('retries with backoff while tokend is down, and renews once it is back', async () => {
    const proxy = await startTcpProxy(Number(new URL(t.url).port));
    const counter = counting();
    const source = new ServiceTokenSource({ baseUrl: `http://127.0.0.1:${proxy.port}`, masterKey: cast.masterKey, fetch: counter.fetch, clock: t.h.clock, retryDelayMs: 20, maxRetryDelayMs: 100 });
    const first = await source.token();
    t.h.clock.advance(28 * DAY);
    await proxy.cut();
    assert.equal(await source.token(), first, 'tokend down inside the lead: the current token still serves');
    const renewal = source.renew();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(counter.failures() >= 2, `${counter.failures()} failed attempts while down`);
    await proxy.restore();
    const renewed = await renewal;
    assert.notEqual(renewed.token, first);
    assert.equal(await source.token(), renewed.token);
    source.close();
    await proxy.close();
  });

  test('start() renews by itself at the start of each lead, with no caller asking', async () => {
    const renewed: string[] = [];
    // A lead of all but ~26 ms of the 30 days: each token is due for renewal almost at once.
    // The SDK's clock runs on from tokend's (frozen) one in real time, so the timer's wait is real.
    const started = performance.now();
    const clock = { now: () => t.h.clock.now() + (performance.now() - started) };
    const source = new ServiceTokenSource({ baseUrl: t.url, masterKey: cast.masterKey, clock, renewBefore: 1 - 1e-8, onRenewed: (token) => renewed.push(token.token) });
    source.start();
    await within(5000, async () => renewed.length >= 3);
    source.close();
    assert.ok(renewed.length >= 3, `${renewed.length} renewals`);
    assert.equal(new Set(renewed).size, renewed.length, 'each renewal is a new token');
  });

  test('a refused master key is InvalidCredentialsError at once, with no retries', async () => {
    const counter = counting();
    const source = new ServiceTokenSource({ baseUrl: t.url, masterKey: 'tkm_wrong', fetch: counter.fetch });
    await assert.rejects(source.token(), (error: unknown) => error instanceof InvalidCredentialsError && error.code === 'invalid_credentials');
    assert.equal(counter.calls(GET_TOKEN), 1);
  });
});

describe('UserSession', () => {
  test('oauth (seed 003): N concurrent callers inside the lead make one refresh request, and the rotation is followed', async () => {
    const counter = counting();
    const session = new UserSession({ baseUrl: t.url, clientId: t.h.clientId, clientSecret: t.h.clientSecret, fetch: counter.fetch, clock: t.h.clock });
    await session.login(cast.alice.username, cast.alice.password);
    const first = await session.accessToken();
    t.h.clock.advance(6_600_000); // 6600 of 7200 s: inside the 720 s lead
    const tokens = await Promise.all(Array.from({ length: 25 }, () => session.accessToken()));
    assert.equal(counter.calls('/oauth/token'), 2, 'the login and exactly one refresh');
    assert.equal(new Set(tokens).size, 1);
    assert.notEqual(tokens[0], first);
    // The rotated refresh token was kept: refreshing again works (a reused one would end the session).
    const again = await session.refresh();
    assert.notEqual(again.accessToken, tokens[0]);
    assert.equal((await introspectAs(again.accessToken, t.h)).active, true);
  });

  test('a refresh tokend refuses ends the session: SessionEndedError, and the storage is cleared', async () => {
    const storage = new MemoryTokenStorage();
    const session = new UserSession({ baseUrl: t.url, clientId: t.h.clientId, clientSecret: t.h.clientSecret, storage, clock: t.h.clock });
    await session.login(cast.alice.username, cast.alice.password);
    const stored = storage.load()!;
    await postForm(t.h, '/oauth/revoke', { token: stored.refreshToken! }, { authorization: basic(t.h.clientId, t.h.clientSecret) });
    await assert.rejects(session.refresh(), (error: unknown) => error instanceof SessionEndedError && error.code === 'session_ended');
    assert.equal(storage.load(), null);
  });

  test('the storage is pluggable: a second process picks up the session where the first left it', async () => {
    const storage = new MemoryTokenStorage();
    const first = new UserSession({ baseUrl: t.url, clientId: t.h.clientId, clientSecret: t.h.clientSecret, storage, clock: t.h.clock });
    await first.login(cast.alice.username, cast.alice.password);
    const second = new UserSession({ baseUrl: t.url, clientId: t.h.clientId, clientSecret: t.h.clientSecret, storage, clock: t.h.clock });
    assert.equal(await second.accessToken(), await first.accessToken());
  });

  test('jsonapi (seed 001): login, refresh, and logout revokes the session', async () => {
    const session = new UserSession({ baseUrl: t.url, door: 'jsonapi', clock: t.h.clock });
    const login = await session.login(cast.alice.username, cast.alice.password);
    assert.equal(login.accessToken.split('.').length, 3, 'seed 001 hands out JWTs');
    const refreshed = await session.refresh();
    assert.notEqual(refreshed.accessToken, login.accessToken);
    await session.logout();
    assert.equal((await introspectAs(refreshed.accessToken, t.h)).active, false);
    await assert.rejects(session.accessToken(), SessionEndedError);
  });

  test('device (seed 004): a 30-day token with no refresh; after expiry, log in again', async () => {
    const session = new UserSession({ baseUrl: t.url, door: 'device', clock: t.h.clock });
    await session.login(cast.alice.username, cast.alice.password, { deviceInfo: 'Pixel 8' });
    const token = await session.accessToken();
    t.h.clock.advance(29.5 * DAY);
    assert.equal(await session.accessToken(), token, 'no refresh token: the token serves to the end');
    t.h.clock.advance(DAY);
    await assert.rejects(session.accessToken(), SessionEndedError);
  });

  test('a wrong password is InvalidCredentialsError', async () => {
    const session = new UserSession({ baseUrl: t.url, clientId: t.h.clientId, clientSecret: t.h.clientSecret });
    await assert.rejects(session.login(cast.alice.username, 'wrong password'), InvalidCredentialsError);
  });
});

describe('authorizedFetch', () => {
  test('adds the token, and after a 401 refreshes once and retries', async () => {
    const counter = counting();
    const session = new UserSession({ baseUrl: t.url, clientId: t.h.clientId, clientSecret: t.h.clientSecret, fetch: counter.fetch, clock: t.h.clock });
    await session.login(cast.alice.username, cast.alice.password);
    const api = authorizedFetch(sessionProvider(session));
    const me = await api(`${t.url}/v1/me`);
    assert.equal(me.status, 200);
    const { token } = (await me.json()) as { token: { id: string } };
    // The operator revokes this access token only: the session and its refresh token live on.
    assert.equal((await adminRequest(t.h, 'DELETE', `/tokens/${token.id}`)).statusCode < 300, true);
    const retried = await api(`${t.url}/v1/me`);
    assert.equal(retried.status, 200);
    assert.equal(counter.calls('/oauth/token'), 2, 'the login and one refresh after the 401');
  });
});
