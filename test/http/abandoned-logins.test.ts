import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUser, startHarness, type Harness } from '../helpers/harness.js';

/*
 * A login whose client hangs up while it waits for a hashing thread is never
 * hashed (src/core/passwords.ts): real HTTP on loopback, one hashing thread,
 * through each door that takes a password.
 */

const PASSWORD = 'abandoned correct horse';

describe('logins abandoned while queued for a hash', () => {
  let h: Harness;
  let port: number;
  let userId: number;

  before(async () => {
    h = await startHarness({ hashing: { concurrency: 1, queue: 64 }, settings: { loginLimits: { perUser: 1000, perIp: 1000, windowSeconds: 900 } } });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    port = (h.app.server.address() as { port: number }).port;
    userId = (await createUser(h, 'abandoner', PASSWORD)).id;
  });
  after(() => h.close());

  const doors = {
    oauth: () => ({
      path: '/oauth/token',
      type: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({ grant_type: 'password', username: 'abandoner', password: PASSWORD, client_id: h.clientId, client_secret: h.clientSecret }).toString(),
    }),
    jsonapi: () => ({ path: '/api/auth/v1/access_tokens', type: 'application/json', body: JSON.stringify({ username: 'abandoner', password: PASSWORD }) }),
    'v1-oauth': () => ({ path: '/v1/oauth/', type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ username: 'abandoner', password: PASSWORD }).toString() }),
  };

  /** Sends a login on a connection of its own, closed after the answer; `hangUp` closes it before. */
  function send(request: { path: string; type: string; body: string }) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`POST ${request.path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${request.type}\r\ncontent-length: ${Buffer.byteLength(request.body)}\r\nconnection: close\r\n\r\n${request.body}`);
    let answer = '';
    socket.on('data', (chunk) => (answer += String(chunk)));
    const answered = new Promise<string>((resolve) => socket.on('close', () => resolve(answer)));
    return { hangUp: () => socket.destroy(), answered };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    for (let waited = 0; !condition(); waited += 5) {
      if (waited > 10_000) assert.fail(`timed out waiting until ${what}`);
      await sleep(5);
    }
  }

  const sessions = async () => (await h.store.listSessionsForUser(userId, { limit: 1000, cursor: null })).items.length;

  for (const [door, request] of Object.entries(doors)) {
    test(`${door}: queued logins whose client hung up are dropped, not hashed; the rest are answered`, async () => {
      const before = await sessions();
      const dropped = h.core.hasher.dropped;
      // Keep the one thread busy: forty hashes queue ahead of the logins (batches of four, a few ms each).
      let hashed = 0;
      const ahead = Array.from({ length: 40 }, () => h.core.hasher.hash('ahead').then(() => (hashed += 1)));
      // Four logins through the door under test queue behind them, then hang up.
      const leaving = Array.from({ length: 4 }, () => send(request()));
      await until(() => h.core.hasher.pending === 40 - hashed + 4, 'the four logins are queued');
      assert.ok(hashed < 36, 'the logins were still queued when they hung up');
      for (const login of leaving) login.hangUp();
      // Two more that stay, queued behind them, are answered.
      const staying = [send(request()), send(request())];
      await Promise.all(ahead);
      const answers = await Promise.all(staying.map((login) => login.answered));
      for (const answer of answers) assert.match(answer, /^HTTP\/1\.1 20[01] /, answer);
      assert.equal(h.core.hasher.pending, 0);
      assert.equal(h.core.hasher.dropped - dropped, 4, 'the four that hung up were dropped');
      assert.equal((await sessions()) - before, 2, 'only the two that stayed logged in');
      assert.deepEqual(h.logs.filter((line) => JSON.parse(line).level >= 50), [], 'a client gone is not a server error');
    });
  }
});
