import type { Actor, Core } from './context.js';
import type { SigningAlg } from './model.js';

/** The longest a JWT of any app may live: how long a retired key must stay published. */
async function maxJwtLifetime(core: Core): Promise<number> {
  let longest = 0;
  let cursor: string | null = null;
  do {
    const page = await core.store.listApps({ limit: 200, cursor });
    for (const app of page.items) {
      // Any app's access token may be a JWT: the JSON:API dialect always issues JWTs.
      longest = Math.max(longest, app.accessTokenTtl);
      if (app.serviceTokenFormat === 'jwt') longest = Math.max(longest, app.serviceTokenTtl);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return longest;
}

/** `POST /admin/v1/signing-keys/rotate` and `tokend keys rotate`. */
export async function rotateSigningKeys(core: Core, alg: SigningAlg | undefined, actor: Actor): Promise<{ kid: string; alg: SigningAlg }> {
  const result = await core.keys.rotate({ ...(alg !== undefined && { alg }), maxTokenLifetimeSeconds: await maxJwtLifetime(core) });
  await core.audit.record('admin.signing_key.rotated', actor, { detail: { kid: result.kid, alg: result.alg } });
  return result;
}
