import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  SignJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { hashSecret } from '../../src/core/tokens.js';
import {
  ISSUER,
  adminRequest,
  basic,
  createClient,
  createUser,
  json,
  login,
  me,
  postForm,
  startHarness,
  type Client,
  type Harness,
} from '../helpers/harness.js';

interface JwtWorld {
  h: Harness;
  client: Client;
  user: { id: number; username: string; password: string };
}

async function jwtWorld(): Promise<JwtWorld> {
  const h = await startHarness();
  const client = await createClient(h, { name: 'jwt', access_token_format: 'jwt', scopes: ['read'] });
  return { h, client, user: await createUser(h, 'jwt-user') };
}

const issue = async ({ h, client, user }: JwtWorld): Promise<string> => (await login(h, user, {}, client)).access_token;

async function jwksOf(h: Harness): Promise<{ keys: JWK[] }> {
  const response = await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  assert.equal(response.statusCode, 200);
  return json(response);
}

const kidsOf = async (h: Harness): Promise<string[]> => (await jwksOf(h)).keys.map((k) => k.kid!);

async function signingKeys(h: Harness): Promise<Array<{ kid: string; alg: string; state: string; published_until: string | null }>> {
  const response = await adminRequest(h, 'GET', '/signing-keys');
  assert.equal(response.statusCode, 200);
  return json(response).keys;
}

const introspect = async ({ h, client }: JwtWorld, token: string) =>
  json(await postForm(h, '/oauth/introspect', { token }, { authorization: basic(client.clientId, client.clientSecret) }));

/** Verifies as an outside resource server would: only the JWKS the server publishes. */
async function verifyWithJwks(h: Harness, token: string, audience = ISSUER) {
  return jwtVerify(token, createLocalJWKSet(await jwksOf(h)), { issuer: ISSUER, audience, typ: 'at+jwt', currentDate: new Date(h.clock.now()) });
}

async function assertRefused(world: JwtWorld, token: string, why: string): Promise<void> {
  const response = await me(world.h, token);
  assert.equal(response.statusCode, 401, `${why}: ${response.body}`);
  assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/, why);
  assert.deepEqual(await introspect(world, token), { active: false }, why);
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A JWT put together by hand, as an attacker would: any header, any payload, any signature. */
const assemble = (header: object, payload: object, signature = ''): string => `${b64(header)}.${b64(payload)}.${signature}`;

function hs256(header: object, payload: object, secret: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function attackerKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, kid: await calculateJwkThumbprint(jwk) };
}

/**
 * A token signed with the server's own current key and recorded like an issued
 * one, so that the only thing wrong with it is what `edit` changes: this tests
 * the claim checks themselves, not the store lookup that follows them.
 */
async function plant({ h }: JwtWorld, model: string, edit: { header?: Partial<JWTHeaderParameters>; claims?: JWTPayload } = {}): Promise<string> {
  const { kid, alg, key } = h.core.keys.signingKey();
  const token = await new SignJWT({ ...decodeJwt(model), ...edit.claims })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt', ...edit.header })
    .sign(key);
  const record = await h.store.findTokenByHash(hashSecret(model));
  assert.ok(record);
  await h.store.insertTokens([{ ...record, id: randomUUID(), hash: hashSecret(token) }]);
  return token;
}

describe('JWT access tokens (RFC 9068)', () => {
  let world: JwtWorld;
  let token: string;
  before(async () => {
    world = await jwtWorld();
    token = await issue(world);
  });
  after(() => world.h.close());

  test('are at+jwt, ES256, signed by a key in the JWKS, with the RFC 9068 claims', async () => {
    const { h, client, user } = world;
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    assert.ok((await kidsOf(h)).includes(header.kid!));

    const self = json(await me(h, token));
    const { payload } = await verifyWithJwks(h, token);
    const iat = Math.floor(h.clock.now() / 1000);
    assert.deepEqual(payload, {
      iss: ISSUER,
      sub: String(user.id),
      aud: ISSUER,
      iat,
      exp: iat + 7200,
      jti: self.token.id,
      client_id: client.clientId,
      scope: 'read',
      sid: self.token.session_id,
    });
  });

  test('/v1/me and introspection accept it', async () => {
    const { h, client, user } = world;
    const response = await me(h, token);
    assert.equal(response.statusCode, 200);
    assert.equal(json(response).user_id, user.id);
    assert.equal(json(response).app.client_id, client.clientId);
    const answer = await introspect(world, token);
    assert.equal(answer.active, true);
    assert.equal(answer.sub, String(user.id));
    assert.equal(answer.jti, decodeJwt(token).jti);
  });

  test('a revoked JWT is refused by /v1/me and inactive on introspection', async () => {
    const { h, client } = world;
    const doomed = await issue(world);
    const revoked = await postForm(h, '/oauth/revoke', { token: doomed }, { authorization: basic(client.clientId, client.clientSecret) });
    assert.equal(revoked.statusCode, 200);
    await assertRefused(world, doomed, 'revoked');
    assert.equal((await me(h, token)).statusCode, 200);
  });

  test('an unsigned token (alg none, None, NONE) is refused', async () => {
    const { kid } = decodeProtectedHeader(token);
    for (const alg of ['none', 'None', 'NONE']) {
      await assertRefused(world, assemble({ alg, typ: 'at+jwt', kid }, decodeJwt(token)), alg);
      await assertRefused(world, assemble({ alg, typ: 'at+jwt' }, decodeJwt(token)), `${alg} without kid`);
    }
  });

  test('an HS256 token whose HMAC secret is our public key is refused', async () => {
    const header = decodeProtectedHeader(token);
    const jwk = (await jwksOf(world.h)).keys.find((k) => k.kid === header.kid)!;
    const pem = await exportSPKI((await importJWK(jwk, 'ES256', { extractable: true })) as CryptoKey);
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
    const secrets = [pem, pem.trim(), JSON.stringify(jwk)];
    for (const secret of secrets) {
      await assertRefused(world, hs256({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }, decodeJwt(token), secret), 'HS256 with kid');
      await assertRefused(world, hs256({ alg: 'HS256', typ: 'at+jwt' }, decodeJwt(token), secret), 'HS256 without kid');
    }
  });

  test('a token that brings its own key in a jwk header is refused', async () => {
    const attacker = await attackerKey();
    const ourKid = decodeProtectedHeader(token).kid!;
    for (const kid of [attacker.kid, ourKid]) {
      const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, jwk: attacker.jwk }).sign(attacker.privateKey);
      await assertRefused(world, forged, `jwk header, kid ${kid}`);
    }
  });

  test('a token that points at its own key set (jku, x5u) is refused, even with our kid', async () => {
    const attacker = await attackerKey();
    const ourKid = decodeProtectedHeader(token).kid!;
    for (const header of [{ jku: 'https://evil.example/jwks.json' }, { x5u: 'https://evil.example/cert.pem' }]) {
      for (const kid of [attacker.kid, ourKid]) {
        const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header }).sign(attacker.privateKey);
        await assertRefused(world, forged, `${Object.keys(header)[0]}, kid ${kid}`);
      }
      // Even a header naming a key set on a token our key signed: we never look a key up anywhere else.
      await assertRefused(world, await plant(world, token, { header }), `${Object.keys(header)[0]} on our own signature`);
    }
  });

  test('a token signed by a key that is not ours is refused', async () => {
    const attacker = await attackerKey();
    for (const kid of [attacker.kid, 'not-our-key']) {
      const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(attacker.privateKey);
      await assertRefused(world, forged, `kid ${kid}`);
    }
  });

  test('a tampered payload with the original signature is refused', async () => {
    const [header, , signature] = token.split('.');
    const claims = decodeJwt(token);
    for (const change of [{ sub: String(Number(claims.sub) + 1) }, { scope: 'read admin' }, { exp: claims.exp! + 86_400 }]) {
      await assertRefused(world, `${header}.${b64({ ...claims, ...change })}.${signature}`, JSON.stringify(change));
    }
  });

  test('a token our key signed and recorded passes the claim checks only when iss, aud, typ and kid are right', async () => {
    assert.equal((await me(world.h, await plant(world, token))).statusCode, 200, 'the planted control token');
    await assertRefused(world, await plant(world, token, { claims: { iss: 'https://evil.example' } }), 'wrong iss');
    await assertRefused(world, await plant(world, token, { claims: { aud: 'https://other-api.example' } }), 'wrong aud');
    await assertRefused(world, await plant(world, token, { header: { typ: 'JWT' } }), 'typ JWT');
    await assertRefused(world, await plant(world, token, { header: { kid: undefined } }), 'no kid');
    const inTwoMinutes = Math.floor(world.h.clock.now() / 1000) + 120;
    await assertRefused(world, await plant(world, token, { claims: { nbf: inTwoMinutes } }), 'not yet valid');
  });

  test('no endpoint returns private key material', async () => {
    const jwks = await jwksOf(world.h);
    const listed = await adminRequest(world.h, 'GET', '/signing-keys');
    for (const key of [...jwks.keys, ...json(listed).keys]) {
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'privateJwk', 'private_jwk']) assert.equal(member in key, false, member);
    }
  });

  // tokend judges its own tokens by the stored expiry on its own clock; the 60 s skew is for other verifiers.
  test('a JWT is accepted until its exp and refused from exp on', async () => {
    const { h } = world;
    const exp = decodeJwt(token).exp! * 1000;
    h.clock.set(exp - 1_000);
    assert.equal((await me(h, token)).statusCode, 200);
    h.clock.set(exp);
    await assertRefused(world, token, 'expired');
  });
});

describe('signing key rotation', () => {
  let world: JwtWorld;
  before(async () => {
    world = await jwtWorld();
  });
  after(() => world.h.close());

  const byState = (keys: Awaited<ReturnType<typeof signingKeys>>, state: string) => keys.filter((k) => k.state === state);

  test('there is one current and one next key, both in the JWKS', async () => {
    const keys = await signingKeys(world.h);
    assert.equal(byState(keys, 'current').length, 1);
    assert.equal(byState(keys, 'next').length, 1);
    assert.deepEqual((await kidsOf(world.h)).sort(), keys.map((k) => k.kid).sort());
    assert.equal(decodeProtectedHeader(await issue(world)).kid, byState(keys, 'current')[0]!.kid);
  });

  test('rotation promotes the pre-published next key; the old key stays published until its tokens have expired', async () => {
    const { h } = world;
    const before = await signingKeys(h);
    const oldKid = byState(before, 'current')[0]!.kid;
    const nextKid = byState(before, 'next')[0]!.kid;
    const oldToken = await issue(world);
    assert.ok((await kidsOf(h)).includes(nextKid), 'the next key is published before it signs');

    const rotated = await adminRequest(h, 'POST', '/signing-keys/rotate', {});
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.equal(json(rotated).kid, nextKid);
    const after = await signingKeys(h);
    assert.deepEqual(byState(after, 'current').map((k) => k.kid), [nextKid]);
    assert.equal(byState(after, 'next').length, 1);
    const retired = after.find((k) => k.kid === oldKid)!;
    assert.equal(retired.state, 'retired');

    const newToken = await issue(world);
    assert.equal(decodeProtectedHeader(newToken).kid, nextKid);
    assert.ok((await kidsOf(h)).includes(oldKid));
    await verifyWithJwks(h, oldToken);
    await verifyWithJwks(h, newToken);
    assert.equal((await me(h, oldToken)).statusCode, 200);
    assert.equal((await me(h, newToken)).statusCode, 200);

    const publishedUntil = Date.parse(retired.published_until!);
    assert.ok(publishedUntil >= decodeJwt(oldToken).exp! * 1000 + 60_000, 'published until the last token it signed has expired, plus skew');
    h.clock.set(publishedUntil - 1000);
    assert.ok((await kidsOf(h)).includes(oldKid));
    h.clock.set(publishedUntil + 1000);
    assert.equal((await kidsOf(h)).includes(oldKid), false);
    assert.ok((await kidsOf(h)).includes(nextKid));
  });

  for (const alg of ['EdDSA', 'RS256', 'ES256'] as const) {
    test(`rotation to ${alg} signs new tokens with ${alg}, and /v1/me accepts them`, async () => {
      const { h } = world;
      const rotated = await adminRequest(h, 'POST', '/signing-keys/rotate', { alg });
      assert.equal(rotated.statusCode, 200, rotated.body);
      assert.equal(json(rotated).alg, alg);
      const keys = await signingKeys(h);
      assert.equal(byState(keys, 'current').length, 1);
      assert.deepEqual(byState(keys, 'next').map((k) => k.alg), [alg], 'one next key, of the new algorithm');

      const fresh = await issue(world);
      assert.equal(decodeProtectedHeader(fresh).alg, alg);
      assert.equal(decodeProtectedHeader(fresh).kid, json(rotated).kid);
      await verifyWithJwks(h, fresh);
      assert.equal((await me(h, fresh)).statusCode, 200);
      for (const key of (await jwksOf(h)).keys) {
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(member in key, false, `${key.kty} ${member}`);
      }
    });
  }

  test('a plain rotation after an algorithm change keeps that algorithm', async () => {
    const { h } = world;
    assert.equal((await adminRequest(h, 'POST', '/signing-keys/rotate', { alg: 'EdDSA' })).statusCode, 200);
    const nextKid = byState(await signingKeys(h), 'next')[0]!.kid;
    const rotated = json(await adminRequest(h, 'POST', '/signing-keys/rotate', {}));
    assert.equal(rotated.alg, 'EdDSA');
    assert.equal(rotated.kid, nextKid);
    assert.equal(decodeProtectedHeader(await issue(world)).alg, 'EdDSA');
  });
});
