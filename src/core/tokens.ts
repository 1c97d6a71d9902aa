import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { randomView } from './random.js';

/** The kinds of token tokend issues (SPEC §2). */
export type TokenKind = 'access' | 'refresh' | 'service' | 'install' | 'api';

/** Every opaque secret tokend hands out, with its public prefix. */
export const PREFIXES = {
  access: 'tka_',
  refresh: 'tkr_',
  service: 'tks_',
  install: 'tki_',
  api: 'tkp_',
  masterKey: 'tkm_',
  clientSecret: 'tkc_',
  operator: 'tko_',
} as const;

export type SecretKind = keyof typeof PREFIXES;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32; // 32 base62 characters = 190 bits
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32, so any CRC32 fits
const LOCATOR_LENGTH = 5; // leaves a token 27 random characters: 160.8 bits (SPEC §2 asks for at least 160)
const LOCATOR_SPAN = 62 ** LOCATOR_LENGTH; // milliseconds: 10.6 days
const DIGEST_LENGTH = 64; // SHA-256 in hex
const BODY = new RegExp(`^[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

const kindByPrefix = new Map<string, SecretKind>(
  Object.entries(PREFIXES).map(([kind, prefix]) => [prefix, kind as SecretKind]),
);

/** Uniform base62 characters: bytes ≥ 248 are dropped, so no character is more likely than another. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomView(length * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function base62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

function checksum(text: string): string {
  return base62(crc32(text), CHECKSUM_LENGTH);
}

/**
 * A new opaque secret: prefix, 190 random bits and a CRC32 of both (SPEC §2
 * "Token format"). Master keys, client secrets and operator tokens are made
 * this way; the tokens tokend issues carry a locator (`mintTokenSecret`).
 */
export function mintSecret(kind: SecretKind): string {
  const body = PREFIXES[kind] + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

/**
 * A new opaque token issued at `at`: prefix, its locator, 160.8 random bits
 * and a CRC32 of the rest, as long as any other secret. The locator is the
 * millisecond of issue modulo 62^5 (10.6 days) in five base62 characters,
 * whose order is the numbers' order; it leads the token's store key
 * (`tokenKey`), so the tokens issued in one grouped commit land on one or two
 * pages of the store's key index instead of one random page each. It tells a
 * holder of the token when it was issued, which the token's id (a UUIDv7) and
 * `created_at` tell anyone who may see them.
 */
export function mintTokenSecret(kind: TokenKind, at: number): string {
  const locator = base62(Math.max(0, Math.floor(at)) % LOCATOR_SPAN, LOCATOR_LENGTH);
  const body = PREFIXES[kind] + locator + randomBase62(RANDOM_LENGTH - LOCATOR_LENGTH);
  return body + checksum(body);
}

/**
 * The kind a string claims by its prefix, when it has the shape of an opaque
 * secret (length, prefix, alphabet); null otherwise. It does not check the
 * checksum: `parseSecret` does.
 */
export function secretShape(secret: string): SecretKind | null {
  if (secret.length !== 4 + RANDOM_LENGTH + CHECKSUM_LENGTH) return null;
  const kind = kindByPrefix.get(secret.slice(0, 4));
  return kind !== undefined && BODY.test(secret.slice(4)) ? kind : null;
}

/** Whether a string of the secret's shape carries the CRC32 of the rest in its last characters. */
export function checksumHolds(secret: string): boolean {
  return checksum(secret.slice(0, -CHECKSUM_LENGTH)) === secret.slice(-CHECKSUM_LENGTH);
}

/**
 * The kind of a well-formed opaque secret, or null. A null answer needs no store
 * lookup: the checksum lets us refuse typos and forgeries for free (SPEC §2).
 */
export function parseSecret(secret: string): SecretKind | null {
  const kind = secretShape(secret);
  return kind !== null && checksumHolds(secret) ? kind : null;
}

/** What the store keeps instead of a secret: its SHA-256, in hex. */
export function hashSecret(secret: string): string {
  // The one-shot hash is a third of createHash's cost, and it runs on every verification.
  return hash('sha256', secret, 'hex');
}

/**
 * What the store finds a token by: an opaque token's five characters after
 * the prefix (its locator, see `mintTokenSecret`) then the SHA-256 hex of the
 * whole token; a JWT's SHA-256 alone (only a JWT starts "eyJ"). Either way it
 * ends with the SHA-256, and holds nothing a SHA-256 does not hide but the
 * locator. `digest` is `hashSecret(token)`, when the caller has it already. A
 * token issued before tokens had locators is stored under its SHA-256 alone:
 * `findTokenBySecret` looks there too.
 */
export function tokenKey(token: string, digest = hashSecret(token)): string {
  return token.startsWith('eyJ') ? digest : token.slice(4, 4 + LOCATOR_LENGTH) + digest;
}

/** The SHA-256 hex a token's store key ends with: what caches, the bus and the revocation feed name a token by. */
export function digestOfKey(key: string): string {
  return key.slice(-DIGEST_LENGTH);
}

/** A JWT is three base64url parts; we only look at a string this shape as one. */
export function looksLikeJwt(value: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(value);
}

export function isTokenKind(kind: SecretKind): kind is TokenKind {
  return kind === 'access' || kind === 'refresh' || kind === 'service' || kind === 'install' || kind === 'api';
}
