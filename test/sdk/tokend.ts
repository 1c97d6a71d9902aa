import assert from 'node:assert/strict';
import { ADMIN_TOKEN, adminRequest, createClient, createUser, json, login, startHarness, type Client, type Harness, type HarnessOptions } from '../helpers/harness.js';

/** A real tokend for the SDK suites: SQLite in a temp dir, listening on a loopback port, its clock starting at the real time. */
export interface Tokend {
  h: Harness;
  url: string;
  close(): Promise<void>;
}

export async function startTokend(options: HarnessOptions = {}): Promise<Tokend> {
  // Outside verifiers judge exp with the real clock: start tokend's ManualClock there.
  const h = await startHarness({ startAt: Date.now(), ...options });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const address = h.app.server.address();
  assert.ok(typeof address === 'object' && address !== null);
  return { h, url: `http://127.0.0.1:${address.port}`, close: () => h.close() };
}

export { ADMIN_TOKEN };

/** The seeds' cast: a JWT app with `assets:read`, a partner app with a master key, a user. */
export async function seedCast(h: Harness): Promise<{ jwtApp: Client; partner: Client; masterKey: string; alice: { id: number; username: string; password: string } }> {
  const jwtApp = await createClient(h, { name: 'assets', access_token_format: 'jwt', scopes: ['assets:read', 'assets:write'] });
  const partner = await createClient(h, { name: 'partner' });
  const response = await adminRequest(h, 'POST', `/apps/${partner.id}/master-keys`);
  assert.equal(response.statusCode, 201, response.body);
  const alice = await createUser(h, 'alice', 'alice password 1');
  return { jwtApp, partner, masterKey: json<{ key: string }>(response).key, alice };
}

/** A JWT access token of alice with `assets:read`. */
export async function jwtLogin(h: Harness, user: { username: string; password: string }, app: Client, scope = 'assets:read') {
  return login(h, user, { scope }, app);
}

/** Polls `check` every 5 ms until it is true or `limitMs` passes; the elapsed ms, or null on timeout. */
export async function within(limitMs: number, check: () => Promise<boolean>): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return null;
}
