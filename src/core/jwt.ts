import { SignJWT, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { CLOCK_SKEW_SECONDS, type KeyRing } from './keys.js';

/** RFC 9068 §2.2 claims of a tokend JWT access token. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  sid?: string;
}

/**
 * The only header parameters we sign with. Anything else is refused: headers that
 * choose their own key (`jwk`, `jku`, `x5u`, `x5c`: SPEC §9) and extensions we do
 * not implement (`crit`, `b64`, `zip`), which jose ignores unless marked critical.
 */
const ALLOWED_HEADERS = new Set(['alg', 'kid', 'typ']);

export async function signAccessToken(keys: KeyRing, claims: AccessTokenClaims): Promise<string> {
  const { kid, alg, key } = keys.signingKey();
  return new SignJWT({ ...claims }).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(key);
}

/**
 * Verifies a JWT access token: signature by one of our own keys chosen by `kid`,
 * with that key's algorithm only; no header but alg, kid, typ; `typ` at+jwt;
 * `iss`; `exp`/`nbf`/`iat` within 60 s of skew. The audience is checked by the caller against the token's app.
 * Returns null for anything else: a bad token is an answer, not an exception.
 */
export async function verifyAccessToken(
  keys: KeyRing,
  token: string,
  options: { issuer: string; now: number },
): Promise<(JWTPayload & AccessTokenClaims) | null> {
  try {
    const header = decodeProtectedHeader(token);
    if (typeof header.kid !== 'string' || Object.keys(header).some((h) => !ALLOWED_HEADERS.has(h))) return null;
    const found = await keys.verificationKey(header.kid);
    if (found === null || header.alg !== found.alg) return null;
    const { payload } = await jwtVerify(token, found.key, {
      algorithms: [found.alg],
      typ: 'at+jwt',
      issuer: options.issuer,
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(options.now),
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    if (typeof payload.client_id !== 'string' || typeof payload.jti !== 'string') return null;
    // jose checks iat only with maxTokenAge: a token issued in our future beyond the skew is not one we issued.
    if (payload.iat! > Math.floor(options.now / 1000) + CLOCK_SKEW_SECONDS) return null;
    return payload as JWTPayload & AccessTokenClaims;
  } catch {
    return null;
  }
}
