import { randomUUID } from 'node:crypto';
import type { Actor, Core } from './context.js';
import { InvalidRequest, NotFound } from './errors.js';
import type { MasterKey } from './model.js';
import { hashSecret, mintSecret } from './tokens.js';

/** A new master key for an app (SPEC §2); the plaintext exists only in the return value. */
export async function createMasterKey(
  core: Core,
  appId: string,
  name: string | null,
  actor: Actor,
): Promise<{ key: MasterKey; secret: string }> {
  if (name !== null && name.length > 200) throw new InvalidRequest('name must be at most 200 characters');
  const app = await core.store.findAppById(appId);
  if (app === null || app.deletedAt !== null) throw new NotFound('app');
  const secret = mintSecret('masterKey');
  const key: MasterKey = { id: randomUUID(), appId, hash: hashSecret(secret), name, createdAt: core.clock.now(), revokedAt: null, lastUsedAt: null };
  await core.store.insertMasterKey(key);
  await core.audit.record('admin.master_key.created', actor, { appId, detail: { master_key_id: key.id } });
  return { key, secret };
}

/** Revokes a master key and, through the revocation tree, every service token it minted. */
export async function revokeMasterKey(core: Core, id: string, actor: Actor): Promise<void> {
  const key = await core.store.findMasterKeyById(id);
  if (key === null) throw new NotFound('master key');
  await core.store.revokeMasterKey(id, core.clock.now());
  await core.audit.record('admin.master_key.revoked', actor, { appId: key.appId, detail: { master_key_id: id } });
}
