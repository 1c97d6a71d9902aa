import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two secrets. Both sides are hashed first so the
 * compare takes the same time whatever their lengths, and so the stored side
 * can be a hash already.
 */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Constant-time equality of a presented secret's SHA-256 hex with a stored SHA-256 hex. */
export function sameHash(presentedHash: string, storedHash: string): boolean {
  const a = Buffer.from(presentedHash, 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
