import type { Core } from './context.js';
import { mintToken, type Minted } from './issuance.js';
import type { App, MasterKey } from './model.js';
import { findPresented, revokeRecord } from './revocation.js';
import { hashSecret, parseSecret } from './tokens.js';

/** A partner backend's master key, with its live app; null for anything else (SPEC §5.1). */
export async function authenticateMasterKey(core: Core, presented: string): Promise<{ key: MasterKey; app: App } | null> {
  if (parseSecret(presented) !== 'masterKey') return null;
  const key = await core.masterKeys.findByHash(hashSecret(presented));
  if (key === null || key.revokedAt !== null) return null;
  const app = await core.apps.findById(key.appId);
  if (app === null || app.deletedAt !== null) return null;
  core.usage.masterKeySeen(key.id, core.clock.now());
  return { key, app };
}

/**
 * A new service token for the master key's app. Each call mints another;
 * earlier ones stay valid until they expire or are revoked, so a partner can
 * roll a new token out to its installs before the old one ends. Revoking the
 * master key revokes every token it minted.
 */
export async function issueServiceToken(core: Core, options: { key: MasterKey; app: App; ip: string | null }): Promise<Minted> {
  const { key, app } = options;
  const minted = await mintToken(core, {
    kind: 'service',
    app,
    userId: null,
    sessionId: null,
    scopes: [...app.scopes],
    ttlSeconds: app.serviceTokenTtl,
    format: app.serviceTokenFormat,
    masterKeyId: key.id,
  });
  await core.store.insertTokens(
    [minted.record],
    core.audit.announce('token.issued', `master-key:${key.id}`, {
      appId: app.id,
      tokenId: minted.record.id,
      ip: options.ip,
      detail: { kind: 'service', format: minted.record.format },
    }),
  );
  return minted;
}

/** Revokes a service token of the master key's app; any other token is left alone, and the answer is the same. */
export async function revokeServiceToken(core: Core, options: { key: MasterKey; app: App; presented: string; ip: string | null }): Promise<void> {
  const token = await findPresented(core, options.presented);
  if (token === null || token.appId !== options.app.id || token.kind !== 'service' || token.revokedAt !== null) return;
  await revokeRecord(core, token, `master-key:${options.key.id}`, options.ip);
}
