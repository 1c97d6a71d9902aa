import { randomUUID } from 'node:crypto';
import type { Core } from './context.js';
import { sameSecret } from './secrets.js';
import { hashSecret, mintSecret, parseSecret } from './tokens.js';

export interface Operator {
  id: string;
  name: string;
}

/** A new operator token (`tokend admin-token create`); the plaintext exists only in the return value. */
export async function createOperatorToken(core: Core, name: string): Promise<{ id: string; secret: string }> {
  const secret = mintSecret('operator');
  const id = randomUUID();
  await core.store.insertOperatorToken({ id, hash: hashSecret(secret), name, createdAt: core.clock.now(), revokedAt: null });
  await core.audit.record('admin.operator_token.created', 'system', { detail: { id, name } });
  return { id, secret };
}

/** The operator a bearer token belongs to: `TOKEND_ADMIN_TOKEN` (compared in constant time) or a stored operator token. */
export async function authenticateOperator(core: Core, presented: string): Promise<Operator | null> {
  const configured = core.settings.adminToken;
  if (configured !== null && sameSecret(presented, configured)) return { id: 'env', name: 'TOKEND_ADMIN_TOKEN' };
  if (parseSecret(presented) !== 'operator') return null;
  const token = await core.store.findOperatorTokenByHash(hashSecret(presented));
  return token === null || token.revokedAt !== null ? null : { id: token.id, name: token.name };
}
