import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adminRequest, createUser, json, startHarness, type HarnessOptions } from '../helpers/harness.js';

/*
 * SPEC §9 / issue 5: per-IP login limits count the real client. X-Forwarded-For
 * is believed only from a configured proxy; from anyone else it is ignored, or
 * a guesser would rotate the header to dodge the limit.
 */

const limits = { loginLimits: { perUser: 1000, perIp: 3, windowSeconds: 900 } };

async function guesses(options: HarnessOptions, forwardedFor: (i: number) => string): Promise<number[]> {
  const h = await startHarness({ ...options, settings: limits });
  try {
    await createUser(h, 'alice');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const forwarded = await h.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor(i) },
        payload: new URLSearchParams({ grant_type: 'password', username: `someone-${i}`, password: 'guess', client_id: h.clientId, client_secret: h.clientSecret }).toString(),
      });
      statuses.push(forwarded.statusCode);
    }
    return statuses;
  } finally {
    await h.close();
  }
}

describe('the client IP behind a proxy', () => {
  test('without a trusted proxy, X-Forwarded-For is ignored: rotating it does not escape the per-IP limit', async () => {
    const statuses = await guesses({}, (i) => `203.0.113.${i}`);
    assert.deepEqual(statuses, [400, 400, 400, 429, 429], 'all five counted against the one real address');
  });

  test('X-Forwarded-For from an address that is not the configured proxy is ignored too', async () => {
    const statuses = await guesses({ trustProxy: ['10.0.0.9'] }, (i) => `203.0.113.${i}`);
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
  });

  test('behind the configured proxy, each forwarded client has its own count, and the session records it', async () => {
    const h = await startHarness({ trustProxy: ['127.0.0.1'], settings: limits });
    try {
      const alice = await createUser(h, 'alice');
      const attempt = (ip: string, password = 'guess') =>
        h.app.inject({
          method: 'POST',
          url: '/oauth/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
          payload: new URLSearchParams({ grant_type: 'password', username: 'alice', password, client_id: h.clientId, client_secret: h.clientSecret }).toString(),
        });
      for (let i = 0; i < 3; i++) assert.equal((await attempt('198.51.100.7')).statusCode, 400);
      assert.equal((await attempt('198.51.100.7')).statusCode, 429, 'the guessing client is limited');
      const other = await attempt('198.51.100.8', alice.password);
      assert.equal(other.statusCode, 200, 'another client behind the same proxy is not');
      const sessions = json(await adminRequest(h, 'GET', `/users/${alice.id}/sessions`)).sessions;
      assert.deepEqual(sessions.map((s: { ip: string }) => s.ip), ['198.51.100.8']);
    } finally {
      await h.close();
    }
  });
});
