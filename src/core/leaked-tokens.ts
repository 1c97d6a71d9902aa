import type { Core } from './context.js';
import { revokeRecord } from './revocation.js';
import { hashSecret, isTokenKind, looksLikeJwt, parseSecret } from './tokens.js';
import { findTokenBySecret } from './verification.js';

/** Reports per client IP per window: generous for a scanner, useless as a guessing oracle or a DoS lever. */
export const LEAK_REPORT_LIMIT = { perIp: 60, windowSeconds: 60 } as const;

/** A scanner may batch this many matches in one report. */
export const LEAK_REPORT_BATCH = 100;

/** Longer than any secret or JWT tokend issues: not worth a store lookup. */
const MAX_PRESENTED_LENGTH = 8192;

export interface LeakReport {
  presented: string;
  ip: string | null;
}

/**
 * What a report did; the HTTP answer never shows it (the same bytes whatever
 * happened), but tests and logs of counts may.
 */
export type LeakOutcome = 'revoked' | 'client_secret_reported' | 'ignored';

/**
 * Someone found a tokend secret where it should not be and reported it,
 * unauthenticated. A live token, refresh token (with its session) or master key
 * (with its service tokens) is revoked and audited as `token.leaked`; a client
 * secret is only audited, since revoking it would lock the app out: the
 * operator rotates it. Operator tokens (`tko_`) are ignored: the store has no
 * verb to revoke one. Unknown, malformed, expired and revoked secrets are
 * ignored. Every path hashes the input once, so a malformed secret costs
 * about what an unknown one does.
 */
export async function reportLeakedToken(core: Core, report: LeakReport): Promise<LeakOutcome> {
  const { presented, ip } = report;
  const hash = hashSecret(presented);
  if (presented.length > MAX_PRESENTED_LENGTH) return 'ignored';
  if (looksLikeJwt(presented)) return revokeLeakedToken(core, presented, hash, ip);
  const kind = parseSecret(presented);
  if (kind === null) return 'ignored';
  if (isTokenKind(kind)) return revokeLeakedToken(core, presented, hash, ip);
  if (kind === 'masterKey') return revokeLeakedMasterKey(core, hash, ip);
  if (kind === 'clientSecret') return reportLeakedClientSecret(core, hash, ip);
  return 'ignored';
}

async function revokeLeakedToken(core: Core, presented: string, hash: string, ip: string | null): Promise<LeakOutcome> {
  const token = await findTokenBySecret(core.store, presented, hash);
  if (token === null || token.revokedAt !== null || (token.expiresAt !== null && token.expiresAt <= core.clock.now())) return 'ignored';
  await revokeRecord(core, token, 'anonymous', ip, 'leaked');
  return 'revoked';
}

async function revokeLeakedMasterKey(core: Core, hash: string, ip: string | null): Promise<LeakOutcome> {
  const key = await core.store.findMasterKeyByHash(hash);
  if (key === null || key.revokedAt !== null) return 'ignored';
  await core.store.revokeMasterKey(key.id, core.clock.now());
  await core.audit.record('token.leaked', 'anonymous', { appId: key.appId, ip, detail: { kind: 'master_key', master_key_id: key.id } });
  return 'revoked';
}

/**
 * Nothing changes: revoking a client secret would stop the app authenticating.
 * The audit event tells the operator which app to rotate
 * (`POST /admin/v1/apps/{id}/secret`).
 */
async function reportLeakedClientSecret(core: Core, hash: string, ip: string | null): Promise<LeakOutcome> {
  const app = await core.store.findAppByClientSecretHash(hash);
  if (app === null) return 'ignored';
  await core.audit.record('client_secret.leaked', 'anonymous', { appId: app.id, ip, detail: { kind: 'client_secret' } });
  return 'client_secret_reported';
}
