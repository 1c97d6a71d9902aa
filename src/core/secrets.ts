import { hash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two secrets. Both sides are hashed first so the
 * compare takes the same time whatever their lengths, and so the stored side
 * can be a hash already.
 */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Constant-time check of a presented secret against the stored SHA-256 of one,
 * given as its 32 bytes (`digestBytes`): the secret is hashed straight
 * to bytes, with no hex on either side.
 */
export function matchesDigest(presented: string, stored: Buffer): boolean {
  return stored.length === 32 && timingSafeEqual(hash('sha256', presented, 'buffer'), stored);
}

/** The bytes of a stored SHA-256 hex, or an empty buffer (which matches nothing) if it is not one. */
export function digestBytes(storedHash: string): Buffer {
  const bytes = Buffer.from(storedHash, 'hex');
  return bytes.length === 32 ? bytes : Buffer.alloc(0);
}

const digest = (value: string): Buffer => hash('sha256', value, 'buffer');
