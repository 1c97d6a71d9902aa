import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InvalidTokenError, TokenVerifier, type FeedRevocation } from '../../sdk/index.js';
import type { FeedRevocation as SentRevocation } from '../../src/http/revocation-feed.js';
import { ADMIN_TOKEN, ISSUER, adminRequest, basic, json, login, postForm } from '../helpers/harness.js';
import { jwtLogin, seedCast, startTokend, type Tokend } from './tokend.js';

/**
 * The wire type is declared twice, since the SDK imports nothing from the
 * server; `npm test`'s typecheck fails here the day the two drift apart.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const wireTypesAgree: Same<FeedRevocation, SentRevocation> = true;
void wireTypesAgree;

/** GET /v1/revocations on the wire, as any SSE client (not only the SDK) would read it. */

let t: Tokend;
let cast: Awaited<ReturnType<typeof seedCast>>;

before(async () => {
  t = await startTokend();
  cast = await seedCast(t.h);
});
after(() => t.close());

/** Opens the feed and collects its messages as {event, data}. */
async function follow(authorization: string): Promise<{ status: number; messages: Array<{ event: string; data: Record<string, unknown> }>; close(): void }> {
  const abort = new AbortController();
  const response = await fetch(`${t.url}/v1/revocations`, { headers: { authorization }, signal: abort.signal });
  const messages: Array<{ event: string; data: Record<string, unknown> }> = [];
  if (response.status === 200) {
    void (async () => {
      let buffer = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body!) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event !== undefined && data !== undefined) messages.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  } else {
    await response.body?.cancel();
  }
  return { status: response.status, messages, close: () => abort.abort() };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check());
};

describe('GET /v1/revocations', () => {
  test('starts with an epoch, beats every 250 ms, and relays a revocation as the JWT\'s jti, never a secret', async () => {
    const feed = await follow(`Bearer ${ADMIN_TOKEN}`);
    assert.equal(feed.status, 200);
    await until(() => feed.messages.filter((m) => m.event === 'heartbeat').length >= 2);
    assert.equal(feed.messages[0]?.event, 'epoch');
    assert.equal(typeof feed.messages[0]?.data.now, 'number');

    const { access_token } = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    const jti = JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()).jti as string;
    await postForm(t.h, '/oauth/revoke', { token: access_token }, { authorization: basic(cast.jwtApp.clientId, cast.jwtApp.clientSecret) });
    await until(() => feed.messages.some((m) => m.event === 'revoked'));
    const revoked = feed.messages.find((m) => m.event === 'revoked')!;
    assert.deepEqual(revoked.data, { type: 'token', jti, at: t.h.clock.now() });
    assert.ok(!JSON.stringify(feed.messages).includes(access_token.split('.')[2]!));
    feed.close();
  });

  test('a refresh token rotated and a session ended arrive as token_hash and sid', async () => {
    const feed = await follow(basic(t.h.clientId, t.h.clientSecret));
    assert.equal(feed.status, 200, 'an app follows with its client credentials');
    await until(() => feed.messages.length > 0);
    const tokens = await login(t.h, cast.alice);
    const rotated = await postForm(t.h, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: t.h.clientId, client_secret: t.h.clientSecret });
    const me = json<{ token: { session_id: string } }>(await t.h.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${json<{ access_token: string }>(rotated).access_token}` } }));
    assert.equal((await adminRequest(t.h, 'DELETE', `/sessions/${me.token.session_id}`)).statusCode < 300, true);
    await until(() => feed.messages.filter((m) => m.event === 'revoked').length >= 2);
    const revoked = feed.messages.filter((m) => m.event === 'revoked').map((m) => m.data);
    assert.equal(revoked[0]?.type, 'token_hash');
    assert.match(String(revoked[0]?.hash), /^[0-9a-f]{64}$/);
    assert.deepEqual(revoked[1], { type: 'session', sid: me.token.session_id, at: t.h.clock.now() });
    feed.close();
  });

  test('without credentials, or with wrong ones, it is 401', async () => {
    assert.equal((await follow('Bearer nope')).status, 401);
    assert.equal((await follow(basic(t.h.clientId, 'tkc_wrong'))).status, 401);
    const user = await login(t.h, cast.alice);
    assert.equal((await follow(`Bearer ${user.access_token}`)).status, 401, 'a user token is not a follower');
  });

  test('a verifier with an app\'s credentials follows the feed and sees only that app\'s tokens', async () => {
    const verifier = new TokenVerifier({ baseUrl: t.url, issuer: ISSUER, credentials: { clientId: cast.jwtApp.clientId, clientSecret: cast.jwtApp.clientSecret } });
    assert.equal(await verifier.ready(), true);
    const own = await jwtLogin(t.h, cast.alice, cast.jwtApp);
    assert.equal((await verifier.verify(own.access_token)).clientId, cast.jwtApp.clientId);
    const foreign = await login(t.h, cast.alice);
    await assert.rejects(verifier.verify(foreign.access_token), InvalidTokenError);
    verifier.close();
  });
});
