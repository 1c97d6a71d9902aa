import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { TokenSet } from './issuance.js';

/*
 * The refresh grace window (SPEC §4) must answer a replay of the immediate
 * predecessor with the very same successor pair, yet the server never stores a
 * token in plaintext. We seal the successor pair with AES-256-GCM under a key
 * derived (HKDF-SHA256) from the predecessor refresh token itself. Only its
 * SHA-256 is stored, so the sealed pair can be opened only by someone who
 * presents the predecessor token — the one party the replay answer is for.
 * A stolen database yields neither the tokens nor the means to open the seal.
 * This also works for JWT access tokens, whose ECDSA signatures are not
 * deterministic and so could not be derived again.
 */

const INFO = Buffer.from('tokend refresh-grace seal v1');

function keyFor(predecessor: string): Buffer {
  return Buffer.from(hkdfSync('sha256', predecessor, Buffer.alloc(0), INFO, 32));
}

export function sealSuccessor(predecessor: string, predecessorId: string, set: TokenSet): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(predecessor), iv);
  cipher.setAAD(Buffer.from(predecessorId));
  const body = Buffer.concat([cipher.update(JSON.stringify(set), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The sealed pair, or null if the seal does not open with this token. */
export function openSuccessor(predecessor: string, predecessorId: string, sealed: string): TokenSet | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyFor(predecessor), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(predecessorId));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as TokenSet;
  } catch {
    return null;
  }
}
