import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ManualClock } from '../../src/core/clock.js';
import { InvalidTokenError, TokenVerifier } from '../../sdk/index.js';
import { startPair, type Node, type Pair } from '../helpers/cluster.js';
import { ADMIN_TOKEN, ISSUER, basic, json } from '../helpers/harness.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';
import { within } from './tokend.js';

/**
 * The revocation feed across nodes: the verifier follows node B, revocations
 * happen on node A and reach it through Redis; when B loses Redis its feed
 * stops vouching, and the verifier stops trusting local checks.
 */
describe('the revocation feed of one node, with revocations on another', () => {
  let pair: Pair;
  let proxy: TcpProxy;
  let a: Node;
  let b: Node;
  let clock: ManualClock;
  let verifier: TokenVerifier;
  let jwtClient: { clientId: string; clientSecret: string };
  const user = { username: 'alice', password: 'alice-password' };

  before(async () => {
    pair = await startPair();
    ({ a, b, proxy, clock } = pair);
    await b.app.listen({ host: '127.0.0.1', port: 0 });
    const made = json(await pair.admin('/apps', { name: 'jwt', access_token_format: 'jwt' }));
    jwtClient = { clientId: made.client_id, clientSecret: made.client_secret };
    assert.equal((await pair.admin('/users', user)).statusCode, 201);
    verifier = new TokenVerifier({ baseUrl: `http://127.0.0.1:${(b.app.server.address() as { port: number }).port}`, issuer: ISSUER, credentials: { operatorToken: ADMIN_TOKEN } });
    assert.equal(await verifier.ready(), true);
    clock.advance(6000);
  });
  after(async () => {
    verifier.close();
    await pair.close();
  });

  const jwt = async (): Promise<string> => {
    const response = await a.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ grant_type: 'password', ...user, client_id: jwtClient.clientId, client_secret: jwtClient.clientSecret }),
    });
    assert.equal(response.statusCode, 200, response.body);
    return json<{ access_token: string }>(response).access_token;
  };

  const revokeOnA = async (token: string): Promise<void> => {
    const revoked = await a.app.inject({ method: 'POST', url: '/oauth/revoke', headers: { authorization: basic(jwtClient.clientId, jwtClient.clientSecret), 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${token}` });
    assert.equal(revoked.statusCode, 200);
  };

  /** Ms until the verifier following node B refuses `token` as invalid, or null after `limitMs`. */
  const refusedWithin = (limitMs: number, token: string) =>
    within(limitMs, () => verifier.verify(token).then(() => false, (error: unknown) => error instanceof InvalidTokenError));

  test('a JWT revoked on node A is refused by a verifier following node B within 1 s', async () => {
    const token = await jwt();
    assert.equal((await verifier.verify(token)).checkedBy, 'jwt');
    await revokeOnA(token);
    const elapsed = await refusedWithin(1000, token);
    console.log(`# JWT revoked on node A refused by a verifier on node B's feed after ${elapsed?.toFixed(1)} ms`);
    assert.ok(elapsed !== null);
  });

  test('a JWT revoked on node A just after node B lost Redis is still refused within 1 s: B\'s feed stops vouching', async () => {
    const token = await jwt();
    assert.equal((await verifier.verify(token)).checkedBy, 'jwt');
    await proxy.cut();
    // The revocation cannot reach node B now; only the loss of trust can protect the verifier.
    await revokeOnA(token);
    const elapsed = await refusedWithin(1000, token);
    console.log(`# JWT revoked on node A while node B had lost Redis: refused after ${elapsed?.toFixed(0)} ms (through introspection)`);
    assert.ok(elapsed !== null, 'accepted more than 1 s after its revocation');
    assert.equal(verifier.vouched, false);
  });

  test('once node B has Redis back, its feed opens a new epoch and the verifier trusts local checks again', async () => {
    await proxy.restore();
    assert.notEqual(await within(5000, async () => verifier.vouched), null);
    clock.advance(6000);
    assert.equal((await verifier.verify(await jwt())).checkedBy, 'jwt');
  });
});
