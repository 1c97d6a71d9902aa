/**
 * Verifies a tokend JWT service token offline, as a device or a resource
 * server would: with the issuer's public keys (JWKS) and nothing else.
 *
 *   # once, while online: save the JWKS
 *   curl -s https://auth.example.com/.well-known/jwks.json > jwks.json
 *   # any time after, offline
 *   TOKEND_ISSUER=https://auth.example.com npx tsx examples/offline-verify.ts "$TOKEN" jwks.json
 *
 * Without the jwks.json argument the script fetches the JWKS from the issuer
 * once. `TOKEND_AUDIENCE` sets the expected `aud` (default: the issuer URL,
 * which is what tokend puts there unless the app has its own `audience`).
 *
 * An offline check cannot see revocation: a revoked token passes until its
 * `exp`. Ask tokend (`POST /oauth/introspect`) where that matters.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export interface OfflineCheck {
  issuer: string;
  /** Default: the issuer URL. */
  audience?: string;
  /** The time to judge `exp` by; default now. */
  currentDate?: Date;
}

/** The verified claims of a service token, or a thrown jose error saying why it is not one. */
export async function verifyServiceToken(token: string, jwks: JSONWebKeySet, check: OfflineCheck): Promise<JWTPayload> {
  return verifyWith(token, createLocalJWKSet(jwks), check);
}

async function verifyWith(token: string, keys: JWTVerifyGetKey, check: OfflineCheck): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, keys, {
    // Never let the token pick its algorithm: only those tokend signs with.
    algorithms: ['ES256', 'RS256', 'EdDSA'],
    // RFC 9068 §2.1: an access token says so in its header; an ID token or another JWT is not one.
    typ: 'at+jwt',
    issuer: check.issuer,
    audience: check.audience ?? check.issuer,
    requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
    clockTolerance: 60,
    ...(check.currentDate !== undefined && { currentDate: check.currentDate }),
  });
  // A service token acts for the app itself (SPEC §2): no user, so `sub` is the app's client_id.
  if (payload.sub !== payload.client_id) throw new Error('this is a user token, not a service token');
  return payload;
}

async function main(): Promise<void> {
  const [token, jwksPath] = process.argv.slice(2);
  const issuer = process.env.TOKEND_ISSUER;
  if (token === undefined || issuer === undefined) {
    console.error('usage: TOKEND_ISSUER=<issuer URL> npx tsx examples/offline-verify.ts <token> [jwks.json]');
    process.exit(2);
  }
  const check: OfflineCheck = { issuer, ...(process.env.TOKEND_AUDIENCE !== undefined && { audience: process.env.TOKEND_AUDIENCE }) };
  try {
    const payload =
      jwksPath === undefined
        ? await verifyWith(token, createRemoteJWKSet(new URL(`${issuer.replace(/\/$/, '')}/.well-known/jwks.json`)), check)
        : await verifyServiceToken(token, JSON.parse(await readFile(jwksPath, 'utf8')) as JSONWebKeySet, check);
    console.log(`valid: app ${String(payload.client_id)}, expires ${new Date(payload.exp! * 1000).toISOString()}`);
  } catch (error) {
    console.error(`invalid: ${(error as Error).message}`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
