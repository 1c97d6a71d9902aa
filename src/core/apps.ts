import { randomUUID } from 'node:crypto';
import type { Actor, Core } from './context.js';
import { InvalidClient, InvalidRequest, NotFound } from './errors.js';
import { andThen, type Maybe } from './maybe.js';
import type { App, GrantType, TokenFormat } from './model.js';
import { checkScopeNames } from './scopes.js';
import { matchesDigest } from './secrets.js';
import { hashSecret, mintSecret, parseSecret, randomBase62 } from './tokens.js';

export const GRANT_TYPES: readonly GrantType[] = ['password', 'refresh_token', 'client_credentials'];
export const TOKEN_FORMATS: readonly TokenFormat[] = ['opaque', 'jwt'];

/** The part of an app an operator sets. TTLs in seconds. */
export interface AppPolicy {
  name: string;
  grants: GrantType[];
  scopes: string[];
  accessTokenFormat: TokenFormat;
  serviceTokenFormat: TokenFormat;
  audience: string | null;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  serviceTokenTtl: number;
  installTokenTtl: number;
  deviceTokenTtl: number;
  refreshReuseGraceSeconds: number;
  deeplinkTemplate: string;
}

/** SPEC §2 defaults. */
export const DEFAULT_POLICY: Omit<AppPolicy, 'name'> = Object.freeze({
  grants: ['password', 'refresh_token', 'client_credentials'],
  scopes: [],
  accessTokenFormat: 'opaque',
  serviceTokenFormat: 'opaque',
  audience: null,
  accessTokenTtl: 7200,
  refreshTokenTtl: 14 * 86_400,
  serviceTokenTtl: 30 * 86_400,
  installTokenTtl: 3600,
  deviceTokenTtl: 30 * 86_400,
  refreshReuseGraceSeconds: 0,
  deeplinkTemplate: 'tokend://auth?token={token}',
}) as Omit<AppPolicy, 'name'>;

const TEN_YEARS = 10 * 365 * 86_400;

/** Checks what an operator asked for; the same rules for the admin API and the CLI. */
export function checkPolicy(policy: Partial<AppPolicy>): Partial<AppPolicy> {
  if (policy.name !== undefined && (policy.name.trim() === '' || policy.name.length > 200)) {
    throw new InvalidRequest('name must be 1 to 200 characters');
  }
  for (const grant of policy.grants ?? []) {
    if (!GRANT_TYPES.includes(grant)) throw new InvalidRequest(`unknown grant "${grant}"; use ${GRANT_TYPES.join(', ')}`);
  }
  for (const [field, format] of [['access_token_format', policy.accessTokenFormat], ['service_token_format', policy.serviceTokenFormat]] as const) {
    if (format !== undefined && !TOKEN_FORMATS.includes(format)) throw new InvalidRequest(`${field} must be opaque or jwt`);
  }
  const ttls = [
    ['access_token_ttl', policy.accessTokenTtl],
    ['refresh_token_ttl', policy.refreshTokenTtl],
    ['service_token_ttl', policy.serviceTokenTtl],
    ['install_token_ttl', policy.installTokenTtl],
    ['device_token_ttl', policy.deviceTokenTtl],
  ] as const;
  for (const [field, ttl] of ttls) {
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > TEN_YEARS)) {
      throw new InvalidRequest(`${field} must be a whole number of seconds from 1 to ${TEN_YEARS}`);
    }
  }
  const grace = policy.refreshReuseGraceSeconds;
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 0 || grace > 3600)) {
    throw new InvalidRequest('refresh_reuse_grace_seconds must be a whole number from 0 to 3600');
  }
  if (policy.deeplinkTemplate !== undefined && !policy.deeplinkTemplate.includes('{token}')) {
    throw new InvalidRequest('deeplink_template must contain {token}');
  }
  if (policy.audience !== undefined && policy.audience !== null && (policy.audience === '' || policy.audience.length > 500)) {
    throw new InvalidRequest('audience must be 1 to 500 characters');
  }
  return { ...policy, ...(policy.grants && { grants: [...new Set(policy.grants)] }), ...(policy.scopes && { scopes: checkScopeNames(policy.scopes) }) };
}

/** A new app and its client secret, which exists in plaintext only in this return value. */
export async function createApp(
  core: Core,
  input: Partial<AppPolicy> & { name: string },
  actor: Actor,
): Promise<{ app: App; clientSecret: string }> {
  const policy = { ...DEFAULT_POLICY, ...checkPolicy(input) } as AppPolicy;
  const clientSecret = mintSecret('clientSecret');
  const now = core.clock.now();
  const app: App = {
    id: randomUUID(),
    clientId: `app_${randomBase62(20)}`,
    clientSecretHash: hashSecret(clientSecret),
    ...policy,
    createdAt: now,
    updatedAt: now,
    deletedAt: null,
  };
  await core.store.insertApp(app);
  await core.audit.record('admin.app.created', actor, { appId: app.id, detail: { name: app.name } });
  return { app, clientSecret };
}

export async function updateApp(core: Core, id: string, patch: Partial<AppPolicy>, actor: Actor): Promise<App> {
  const app = await core.store.updateApp(id, { ...checkPolicy(patch), updatedAt: core.clock.now() });
  if (app === null) throw new NotFound('app');
  await core.audit.record('admin.app.updated', actor, { appId: id, detail: { fields: Object.keys(patch) } });
  return app;
}

export async function rotateClientSecret(core: Core, id: string, actor: Actor): Promise<{ app: App; clientSecret: string }> {
  const clientSecret = mintSecret('clientSecret');
  const app = await core.store.updateApp(id, { clientSecretHash: hashSecret(clientSecret), updatedAt: core.clock.now() });
  if (app === null) throw new NotFound('app');
  await core.audit.record('admin.app.secret_rotated', actor, { appId: id });
  return { app, clientSecret };
}

export async function deleteApp(core: Core, id: string, actor: Actor): Promise<void> {
  if (!(await core.store.deleteApp(id, core.clock.now()))) throw new NotFound('app');
  await core.audit.record('admin.app.deleted', actor, { appId: id });
}

/** A live (not deleted) app by id or client_id. */
export async function findLiveApp(core: Core, idOrClientId: string): Promise<App | null> {
  const app = idOrClientId.startsWith('app_') ? await core.apps.findByClientId(idOrClientId) : await core.apps.findById(idOrClientId);
  return app !== null && app.deletedAt === null ? app : null;
}

const NO_SUCH_SECRET = hashSecret('tkc_no-such-secret');

/**
 * RFC 6749 §2.3.1 client authentication. Client secrets carry 190 random bits,
 * so SHA-256 is enough (no password hash per request); the compare is
 * constant-time and an unknown client costs the same compare. A secret whose
 * checksum fails is refused without touching the store (SPEC §2). Answers at
 * once (or throws) when the app is cached; with a promise when it is read.
 */
export function authenticateClient(core: Core, credentials: { clientId: string; clientSecret: string; basic: boolean }): Maybe<App> {
  // Built only on failure: an Error captures a stack trace, too dear for every request.
  const fail = () => new InvalidClient('client authentication failed', credentials.basic);
  if (parseSecret(credentials.clientSecret) !== 'clientSecret') throw fail();
  return andThen(core.apps.findByClientId(credentials.clientId), (app) => {
    const live = app !== null && app.deletedAt === null;
    const match = matchesDigest(credentials.clientSecret, live ? app.clientSecretHash : NO_SUCH_SECRET);
    if (!match || !live) throw fail();
    return app;
  });
}

/**
 * On an empty store, makes the app `default` and returns its secret (printed
 * once at first start); otherwise null.
 */
export async function ensureDefaultApp(core: Core): Promise<{ app: App; clientSecret: string } | null> {
  if ((await core.store.countApps()) > 0) return null;
  return createApp(core, { name: 'default' }, 'system');
}

/** The app the seed dialects use when a request names none (SPEC §5): the oldest live app named `default`. */
export async function findDefaultApp(core: Core): Promise<App | null> {
  return core.store.findAppByName('default');
}

/** The app's deep link for a token: its template with `{token}` replaced, URL-encoded. */
export function deeplinkFor(app: App, token: string): string {
  return app.deeplinkTemplate.split('{token}').join(encodeURIComponent(token));
}
