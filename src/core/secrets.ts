import { hash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two secrets. Both sides are hashed first so the
 * compare takes the same time whatever their lengths, and so the stored side
 * can be a hash already.
 */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(secretDigest(presented), secretDigest(expected));
}

/**
 * Constant-time check of a presented secret against the stored SHA-256 of one,
 * given as its 32 bytes (`digestBytes`): the secret is hashed straight
 * to bytes, with no hex on either side.
 */
export function matchesDigest(presented: string, stored: Buffer): boolean {
  return stored.length === 32 && timingSafeEqual(secretDigest(presented), stored);
}

/** The bytes of a stored SHA-256 hex, or an empty buffer (which matches nothing) if it is not one. */
export function digestBytes(storedHash: string): Buffer {
  const bytes = Buffer.from(storedHash, 'hex');
  return bytes.length === 32 ? bytes : Buffer.alloc(0);
}

/** The SHA-256 of a secret, as its 32 bytes. */
export const secretDigest = (value: string): Buffer => hash('sha256', value, 'buffer');
