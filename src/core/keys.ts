import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { SigningAlg, SigningKey } from './model.js';

export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'RS256', 'EdDSA'];

/** JWT verifiers may be this far out of step with us (SPEC §9). */
export const CLOCK_SKEW_SECONDS = 60;

interface LoadedKey {
  record: SigningKey;
  publicKey: CryptoKey;
  /** A node:crypto key: tokend signs with node:crypto directly (src/core/jwt.ts). */
  privateKey: KeyObject | null;
}

const RELOAD_INTERVAL_MS = 5_000;
/**
 * Another node may rotate: each node re-reads the keys in the background once
 * its copy is this old, so it stops signing with a retired key within 30 s.
 * Until then its tokens still verify everywhere: a retired key stays published
 * for the longest JWT lifetime plus 60 s after the rotation.
 */
const REFRESH_AFTER_MS = 30_000;

async function generate(alg: SigningAlg, at: number): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg,
    privateJwk: JSON.stringify(await exportJWK(privateKey)),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
    createdAt: at,
    activatedAt: null,
    retiredAt: null,
    publishedUntil: null,
  };
}

/**
 * The JWT signing keys: one current key signs, one "next" key is published in
 * the JWKS before it ever signs (so verifiers that cache the JWKS already know
 * it when rotation promotes it), and retired keys stay published until every
 * token they signed has expired. Private keys never leave this class.
 */
export class KeyRing {
  private keys = new Map<string, LoadedKey>();
  private currentKid: string | null = null;
  private loadedAt = 0;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Loads the keys; on an empty store makes the first current and next keys. */
  async load(): Promise<void> {
    let records = await this.store.listSigningKeys();
    if (records.length === 0) {
      const at = this.clock.now();
      const current = { ...(await generate('ES256', at)), activatedAt: at };
      await this.store.insertSigningKey(current);
      await this.store.insertSigningKey(await generate('ES256', at));
      records = await this.store.listSigningKeys();
    }
    const keys = new Map<string, LoadedKey>();
    for (const record of records) {
      const known = this.keys.get(record.kid);
      keys.set(record.kid, {
        record,
        publicKey: known?.publicKey ?? ((await importJWK(JSON.parse(record.publicJwk) as JWK, record.alg)) as CryptoKey),
        privateKey:
          record.retiredAt !== null
            ? null
            : (known?.privateKey ?? createPrivateKey({ key: JSON.parse(record.privateJwk) as JWK & { kty: string }, format: 'jwk' })),
      });
    }
    const active = records.filter((r) => r.activatedAt !== null && r.retiredAt === null);
    this.keys = keys;
    this.currentKid = active.at(-1)?.kid ?? null;
    this.loadedAt = this.clock.now();
  }

  /** The key that signs new tokens. */
  signingKey(): { kid: string; alg: SigningAlg; key: KeyObject } {
    this.refreshIfStale();
    const loaded = this.currentKid === null ? undefined : this.keys.get(this.currentKid);
    if (loaded?.privateKey == null) throw new Error('no current signing key: was KeyRing.load() called?');
    return { kid: loaded.record.kid, alg: loaded.record.alg, key: loaded.privateKey };
  }

  /**
   * The public key for `kid`, only among our own published keys. An unknown kid
   * reloads from the store (another node may have rotated), at most every 5 s.
   */
  async verificationKey(kid: string): Promise<{ alg: SigningAlg; key: CryptoKey } | null> {
    let loaded = this.keys.get(kid);
    if (loaded === undefined && this.clock.now() - this.loadedAt >= RELOAD_INTERVAL_MS) {
      await this.load();
      loaded = this.keys.get(kid);
    }
    if (loaded === undefined || !this.isPublished(loaded.record)) return null;
    return { alg: loaded.record.alg, key: loaded.publicKey };
  }

  /** RFC 7517 key set: current, next and retired-but-still-needed public keys. */
  jwks(): { keys: JWK[] } {
    this.refreshIfStale();
    return {
      keys: [...this.keys.values()].filter((k) => this.isPublished(k.record)).map((k) => JSON.parse(k.record.publicJwk) as JWK),
    };
  }

  /** Key metadata for operators: never key material. */
  list(): Array<Omit<SigningKey, 'privateJwk' | 'publicJwk'> & { state: 'current' | 'next' | 'retired' }> {
    return [...this.keys.values()].map(({ record }) => ({
      kid: record.kid,
      alg: record.alg,
      createdAt: record.createdAt,
      activatedAt: record.activatedAt,
      retiredAt: record.retiredAt,
      publishedUntil: record.publishedUntil,
      state: record.retiredAt !== null ? 'retired' : record.activatedAt !== null ? 'current' : 'next',
    }));
  }

  /**
   * Promotes the pre-published next key (or, when `alg` differs from it, a fresh
   * key of that algorithm) and retires the current key, which stays published
   * for `maxTokenLifetimeSeconds` plus the allowed clock skew.
   */
  async rotate(options: { alg?: SigningAlg; maxTokenLifetimeSeconds: number }): Promise<{ kid: string; alg: SigningAlg }> {
    await this.load();
    const at = this.clock.now();
    const next = [...this.keys.values()].find((k) => k.record.activatedAt === null && k.record.retiredAt === null)?.record;
    const alg = options.alg ?? next?.alg ?? 'ES256';
    let promote = next;
    if (promote === undefined || promote.alg !== alg) {
      promote = await generate(alg, at);
      await this.store.insertSigningKey(promote);
    }
    await this.store.rotateSigningKeys({
      at,
      promote: promote.kid,
      newNext: await generate(alg, at),
      publishedUntil: at + (options.maxTokenLifetimeSeconds + CLOCK_SKEW_SECONDS) * 1000,
    });
    await this.load();
    return { kid: promote.kid, alg };
  }

  /** Starts a background re-read when the copy is old; never awaited, never throws (the old copy serves meanwhile). */
  private refreshIfStale(): void {
    if (this.refreshing !== null || this.clock.now() - this.loadedAt < REFRESH_AFTER_MS) return;
    this.refreshing = this.load()
      .catch(() => {})
      .finally(() => {
        this.refreshing = null;
      });
  }

  private isPublished(record: SigningKey): boolean {
    return record.retiredAt === null || (record.publishedUntil ?? 0) > this.clock.now();
  }
}
