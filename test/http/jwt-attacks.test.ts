import assert from 'node:assert/strict';
import { createHmac, createPublicKey, KeyObject, randomUUID, sign as signWithNode, type JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { hashSecret } from '../../src/core/tokens.js';
import { ADMIN_TOKEN, adminRequest, createClient, createUser, json, login, me, postForm, startHarness, type Client, type Harness } from '../helpers/harness.js';

/**
 * Forgeries jwt.test.ts does not try (RFC 8725, RFC 9700 §4). Every forged token
 * also gets a live row in the store, like a token we issued, so that a refusal
 * proves the JWT checks refused it, not merely the store lookup behind them.
 */

let h: Harness;
let client: Client;
let user: { id: number; username: string; password: string };
/** A genuine ES256 access token: the model every forgery copies its claims and row from. */
let model: string;
let ourKid: string;
let ourJwk: JWK;
const canaryHits: string[] = [];
let canary: Server;
let canaryUrl: string;

before(async () => {
  canary = createServer((request, response) => {
    canaryHits.push(`${request.method} ${request.url}`);
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
  h = await startHarness();
  client = await createClient(h, { name: 'jwt', access_token_format: 'jwt', scopes: ['read'] });
  user = await createUser(h, 'jwt-attack-user');
  model = (await login(h, user, {}, client)).access_token;
  ourKid = decodeProtectedHeader(model).kid!;
  ourJwk = json(await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).keys.find((k: JWK) => k.kid === ourKid);
});

after(async () => {
  await h.close();
  await new Promise((resolve) => canary.close(resolve));
  // RFC 8725 §3.10 / SPEC §9: no header or claim may make tokend fetch anything.
  assert.deepEqual(canaryHits, [], 'the canary server was contacted');
});

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const ourHeader = (extra: object = {}): Record<string, unknown> => ({ alg: 'ES256', typ: 'at+jwt', kid: ourKid, ...extra });
const claims = (extra: object = {}): Record<string, unknown> => ({ ...decodeJwt(model), ...extra });
const nowSeconds = (): number => Math.floor(h.clock.now() / 1000);

/**
 * JWS compact serialisation with any header and payload, signed with `key` as its own algorithm (ES256, RS256, EdDSA).
 * tokend's own key is a node:crypto key, and ES256 (the tests below keep the default algorithm).
 */
async function sign(key: CryptoKey | KeyObject, header: unknown, payload: unknown): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  if (key instanceof KeyObject) return `${input}.${signWithNode('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  const name = key.algorithm.name;
  const params = name === 'ECDSA' ? { name, hash: 'SHA-256' } : { name };
  const signature = Buffer.from(await globalThis.crypto.subtle.sign(params, key, Buffer.from(input)));
  return `${input}.${signature.toString('base64url')}`;
}

const ourSigningKey = (): KeyObject => h.core.keys.signingKey().key;

function hmac(bits: 256 | 384 | 512, header: object, payload: object, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(`sha${bits}`, secret).update(input).digest('base64url')}`;
}

/** Stores a live row for `token`, copied from the model's, so only the JWT checks stand between it and acceptance. */
async function record(token: string, expiresAt?: number): Promise<string> {
  const row = await h.store.findTokenByHash(hashSecret(model));
  assert.ok(row);
  await h.store.insertTokens([{ ...row, id: randomUUID(), hash: hashSecret(token), ...(expiresAt !== undefined && { expiresAt }) }]);
  return token;
}

/** Our own key's signature over the model's claims changed by `edit`, recorded in the store (expiry row follows a numeric exp). */
async function plant(edit: { header?: object; claims?: object } = {}): Promise<string> {
  const payload = claims(edit.claims);
  const token = await sign(ourSigningKey(), ourHeader(edit.header), payload);
  return record(token, typeof payload.exp === 'number' ? payload.exp * 1000 : undefined);
}

const introspect = async (token: string) =>
  json(await postForm(h, '/oauth/introspect', { token }, { authorization: `Bearer ${ADMIN_TOKEN}` }));

function assertChallenge(response: Awaited<ReturnType<typeof me>>, why: string): void {
  assert.equal(response.statusCode, 401, `${why}: ${response.body}`);
  assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/, why);
}

/** Introspection takes parameters of at most 8192 characters: a longer token is a 400 there, never active. */
async function assertRefused(token: string, why: string): Promise<void> {
  assertChallenge(await me(h, token), why);
  const answer = await introspect(token);
  if (token.length > 8192) assert.equal(answer.error, 'invalid_request', why);
  else assert.deepEqual(answer, { active: false }, why);
}

/** Records the forgery first: see the file comment. */
const assertForgeryRefused = async (token: string, why: string): Promise<void> => assertRefused(await record(token), why);

async function attackerKey(alg: 'ES256' | 'RS256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

describe('JWT attack corpus', () => {
  test('the model token and a planted copy are accepted (the controls)', async () => {
    assert.equal((await me(h, model)).statusCode, 200);
    const planted = await plant();
    assert.equal((await me(h, planted)).statusCode, 200);
    assert.equal((await introspect(planted)).active, true);
  });

  test('an HMAC token keyed with our public key in any encoding is refused (RFC 8725 §2.1, §3.1)', async () => {
    const spki = createPublicKey({ key: ourJwk as JsonWebKey, format: 'jwk' });
    const pem = spki.export({ type: 'spki', format: 'pem' }).toString();
    const der = spki.export({ type: 'spki', format: 'der' });
    const [x, y] = [Buffer.from(ourJwk.x!, 'base64url'), Buffer.from(ourJwk.y!, 'base64url')];
    const secrets: Array<[string, string | Buffer]> = [
      ['PEM with leading whitespace', `  \n\t${pem}`],
      ['PEM with a UTF-8 BOM', `\uFEFF${pem}`],
      ['SPKI DER bytes', der],
      ['raw x‖y', Buffer.concat([x, y])],
      ['uncompressed point 04‖x‖y', Buffer.concat([Buffer.from([4]), x, y])],
      ['JWK x member', ourJwk.x!],
      ['JWK x and y members', `${ourJwk.x}${ourJwk.y}`],
    ];
    for (const bits of [256, 384, 512] as const) {
      for (const [name, secret] of secrets) {
        await assertForgeryRefused(hmac(bits, ourHeader({ alg: `HS${bits}` }), claims(), secret), `HS${bits}, ${name}`);
      }
    }
  });

  test('our ES256 signature under a header that names another algorithm is refused (RFC 8725 §3.1)', async () => {
    const [, payload, signature] = model.split('.');
    for (const alg of ['RS256', 'EdDSA', 'PS256', 'ES384', 'ES512', 'es256', 'ES256K']) {
      await assertForgeryRefused(`${b64(ourHeader({ alg }))}.${payload}.${signature}`, `alg ${alg}`);
    }
  });

  test('a token signed by an attacker key under our kid is refused, whatever its algorithm', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const attacker = await attackerKey(alg);
      await assertForgeryRefused(await sign(attacker.privateKey, ourHeader({ alg }), claims()), `${alg} attacker key, our kid`);
    }
  });

  test('an injected kid is never more than an unknown key (RFC 8725 §3.10)', async () => {
    const attacker = await attackerKey('ES256');
    const kids: Array<[string, unknown]> = [
      ['path traversal', '../../etc/passwd'],
      ['path traversal to our kid', `../${ourKid}`],
      ['SQL', "' OR '1'='1"],
      ['SQL with our kid', `${ourKid}' --`],
      ['10 KB', 'k'.repeat(10_240)],
      ['null byte after our kid', `${ourKid}\u0000`],
      ['null byte before our kid', `\u0000${ourKid}`],
      ['array', [ourKid]],
      ['object', { kid: ourKid }],
      ['number', 1],
      ['URL of the canary', `${canaryUrl}/jwks.json`],
      ['prototype member', '__proto__'],
    ];
    for (const [name, kid] of kids) {
      await assertForgeryRefused(await sign(attacker.privateKey, ourHeader({ kid }), claims()), `kid ${name}, attacker signature`);
      await assertForgeryRefused(await sign(ourSigningKey(), ourHeader({ kid }), claims()), `kid ${name}, our signature`);
    }
  });

  test('jku, x5u and x5c headers are refused and never fetched (RFC 8725 §3.10, SPEC §9)', async () => {
    const attacker = await attackerKey('ES256');
    const headers = [
      { jku: `${canaryUrl}/jwks.json` },
      { x5u: `${canaryUrl}/cert.pem` },
      { x5c: [Buffer.from('not a certificate').toString('base64')] },
      { jku: `${canaryUrl}/jwks.json`, x5u: `${canaryUrl}/cert.pem` },
    ];
    for (const extra of headers) {
      const name = Object.keys(extra).join('+');
      await assertForgeryRefused(await sign(attacker.privateKey, ourHeader(extra), claims()), `${name}, attacker signature`);
      await assertRefused(await plant({ header: extra }), `${name}, otherwise valid`);
    }
  });

  test('header parameters tokend never signs with are refused: crit, b64, zip, cty (RFC 7515 §4.1.11, RFC 7797, RFC 8725 §3.11)', async () => {
    await assertRefused(await plant({ header: { crit: ['exp'], exp: 1 } }), 'crit');
    await assertRefused(await plant({ header: { b64: false, crit: ['b64'] } }), 'b64 false, critical');
    await assertRefused(await plant({ header: { b64: false } }), 'b64 false');
    await assertRefused(await plant({ header: { zip: 'DEF' } }), 'zip DEF over a plain payload');
    await assertRefused(await plant({ header: { cty: 'JWT' } }), 'cty JWT (a nested token)');
    const compressed = deflateRawSync(Buffer.from(JSON.stringify(claims()))).toString('latin1');
    await assertForgeryRefused(await sign(ourSigningKey(), ourHeader({ zip: 'DEF' }), compressed), 'zip DEF over a deflated payload');
  });

  test('malformed tokens are refused', async () => {
    const [header, payload, signature] = model.split('.') as [string, string, string];
    const other = await attackerKey('ES256');
    const cases: Array<[string, string]> = [
      ['JWE-shaped, 5 parts', `${b64({ alg: 'dir', enc: 'A256GCM', kid: ourKid })}..${b64('iv')}.${payload}.${b64('tag')}`],
      ['JSON array payload', await sign(ourSigningKey(), ourHeader(), [claims()])],
      ['JSON string payload', await sign(ourSigningKey(), ourHeader(), JSON.stringify('hello'))],
      // Our own key may sign a JWT this big (200 scopes of 200 characters), so only forgeries of that size are refused.
      ['60 KB payload, attacker signature', await sign(other.privateKey, ourHeader(), claims({ pad: 'p'.repeat(60_000) }))],
      ['60 KB payload under our signature of the model', `${header}.${b64(claims({ pad: 'p'.repeat(60_000) }))}.${signature}`],
      ['standard base64 signature', `${header}.${payload}.${Buffer.from(signature, 'base64url').toString('base64')}`],
      ['padded signature', `${header}.${payload}.${signature}==`],
      ['dot in a segment', `${header}.${payload}.${signature.slice(0, 10)}.${signature.slice(10)}`],
      ['percent-encoded', `${header}.${payload}.${signature.slice(0, 10)}%2F${signature.slice(10)}`],
      ['empty signature', `${header}.${payload}.`],
      ['signature from another ES256 key, our kid', await sign(other.privateKey, ourHeader(), claims())],
      ['truncated signature', `${header}.${payload}.${signature.slice(0, -4)}`],
    ];
    // A signature without '-' or '_' reads the same in both base64 alphabets, so 'standard base64' can
    // equal 'padded' byte for byte: try each distinct token once.
    const tried = new Set<string>();
    for (const [name, token] of cases) {
      if (tried.has(token)) continue;
      tried.add(token);
      await assertForgeryRefused(token, name);
    }
  });

  test('claim edges: exp, nbf, iat around the 60 s skew (RFC 7519 §4.1, RFC 9068 §4)', async () => {
    const now = nowSeconds();
    await assertRefused(await plant({ claims: { exp: now } }), 'exp exactly now');
    await assertRefused(await record(await sign(ourSigningKey(), ourHeader(), claims({ exp: now - 61 }))), 'exp 61 s ago, row still live');
    await assertRefused(await plant({ claims: { exp: String(now + 3600) } }), 'exp as a string');
    await assertRefused(await plant({ claims: { exp: undefined } }), 'no exp');
    await assertRefused(await plant({ claims: { iat: undefined } }), 'no iat');
    await assertRefused(await plant({ claims: { nbf: now + 61 } }), 'nbf 61 s ahead');
    await assertRefused(await plant({ claims: { nbf: String(now) } }), 'nbf as a string');
    await assertRefused(await plant({ claims: { iat: now + 61 } }), 'iat 61 s in the future: we could not have issued it');
    await assertRefused(await plant({ claims: { iat: now + 86_400 } }), 'iat a day in the future');
    assert.equal((await me(h, await plant({ claims: { nbf: now + 60 } }))).statusCode, 200, 'nbf at the 60 s skew limit');
    assert.equal((await me(h, await plant({ claims: { iat: now + 60 } }))).statusCode, 200, 'iat at the 60 s skew limit');
  });

  // Last: rotation changes the signing key for everything after it.
  test('a kid of our retired or next key over another key’s signature is refused', async () => {
    assert.equal((await adminRequest(h, 'POST', '/signing-keys/rotate', {})).statusCode, 200);
    const keys = json(await adminRequest(h, 'GET', '/signing-keys')).keys as Array<{ kid: string; state: string }>;
    const next = keys.find((k) => k.state === 'next')!.kid;
    const current = keys.find((k) => k.state === 'current')!.kid;
    assert.equal(keys.find((k) => k.kid === ourKid)!.state, 'retired');
    assert.equal((await me(h, model)).statusCode, 200, 'the retired key still verifies its own tokens');
    await assertForgeryRefused(await sign(ourSigningKey(), ourHeader({ kid: ourKid }), claims()), 'retired kid, current key signature');
    await assertForgeryRefused(await sign(ourSigningKey(), ourHeader({ kid: next }), claims()), 'next kid, current key signature');
    await assertForgeryRefused(await sign((await attackerKey('ES256')).privateKey, ourHeader({ kid: current }), claims()), 'current kid, attacker');
  });
});

describe('tokens of the wrong kind where an access token is required', () => {
  let refreshToken: string;
  let installToken: string;
  let serviceToken: string;
  let masterKey: string;

  before(async () => {
    const session = await login(h, user);
    refreshToken = session.refresh_token;
    const api = await h.app.inject({
      method: 'POST',
      url: '/v1/api-tokens',
      headers: { authorization: `Bearer ${session.access_token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'installer' }),
    });
    assert.equal(api.statusCode, 201, api.body);
    const query = new URLSearchParams({ app_key: h.clientId, installid: randomUUID() });
    const install = await h.app.inject({ method: 'GET', url: `/v3/users/token?${query}`, headers: { authorization: `Token ${json(api).token}` } });
    assert.equal(install.statusCode, 200, install.body);
    installToken = json(install).token;
    const created = await adminRequest(h, 'POST', `/apps/${client.id}/master-keys`, { name: 'attack' });
    assert.equal(created.statusCode, 201, created.body);
    masterKey = json(created).key;
    const minted = await h.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${masterKey}` } });
    assert.equal(minted.statusCode, 201, minted.body);
    serviceToken = json(minted).token;
  });

  const get = (url: string, token: string) => h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  test('refresh, install (in the header, without installid) and service tokens are refused by /v1/me, /v1/sessions and /v1/api-tokens', async () => {
    for (const [kind, token] of [['refresh', refreshToken], ['install', installToken], ['service', serviceToken]] as const) {
      assert.equal((await introspect(token)).kind, kind, `${kind}: a live token, so only its kind is wrong`);
      for (const url of ['/v1/me', '/v1/sessions', '/v1/api-tokens']) assertChallenge(await get(url, token), `${kind} on ${url}`);
    }
  });

  test('a client secret or a master key presented as a bearer token is refused', async () => {
    for (const [name, secret] of [['client secret', client.clientSecret], ['master key', masterKey]] as const) {
      await assertRefused(secret, name);
      assertChallenge(await get('/v1/sessions', secret), `${name} on /v1/sessions`);
    }
  });
});
