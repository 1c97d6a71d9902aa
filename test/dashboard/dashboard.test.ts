import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { adminRequest, createUser, json, login, me, postForm } from '../helpers/harness.js';
import { SKIP, openDashboard, openTab, screenshot, signInOperator, startRig, storedState, type Rig } from './browser.js';
import { securityChecks } from './security.js';
import { userFlows } from './user.js';

/* Functions given to page.evaluate run in the browser; the test program has no DOM types. */
declare const document: any, localStorage: any, sessionStorage: any;

/*
 * The dashboard in a real browser (Debian's Chromium, headless) against a real
 * tokend on a loopback port: every operator flow here, the dashboard user's in
 * user.ts, the page-wide security checks in security.ts. One browser, one
 * server, one file, so the suite stays fast on a small machine.
 */

let rig: Rig;

describe('dashboard', { skip: SKIP }, () => {
  before(async () => {
    rig = await startRig();
  });
  after(() => rig?.close());

  const getRig = () => rig;

  describe('operator view', () => {
    let page: Page;
    before(async () => {
      ({ page } = await openDashboard(rig));
      await signInOperator(page);
      await page.getByRole('tab', { name: 'Apps' }).waitFor();
    });
    after(() => page.context().close());

    test('signing in keeps the operator token in page memory only', async () => {
      assert.deepEqual(await storedState(page), { local: 0, session: 0, cookie: '' });
      await openTab(page, 'Apps');
      assert.equal(await page.getByRole('tab', { name: 'Apps' }).getAttribute('aria-selected'), 'true');
    });

    test('creates an app (secret shown once), edits its TTLs and formats, rotates its secret', async () => {
      await openTab(page, 'Apps');
      const create = page.getByRole('form', { name: 'Create an app' });
      await create.getByLabel('Name').fill('Mobile');
      await create.getByLabel('Access token format').selectOption('jwt');
      await create.getByLabel('Access token TTL (s)').fill('600');
      await create.getByRole('button', { name: 'Create app' }).click();
      const shown = page.getByRole('region', { name: 'App “Mobile” created' });
      const clientId = await shown.locator('input[name="client_id"]').inputValue();
      const secret = await shown.locator('input[name="client_secret"]').inputValue();
      assert.match(secret, /^tkc_/);
      rig.secrets.add(secret);
      await screenshot(page, 'operator-app-created');
      const created = json((await adminRequest(rig.h, 'GET', `/apps/${clientId}`)));
      assert.equal(created.access_token_format, 'jwt');
      assert.equal(created.access_token_ttl, 600);
      await shown.getByRole('button', { name: 'Done, I saved it' }).click();
      assert.equal(await page.locator('input[name="client_secret"]').count(), 0, 'the secret is gone once dismissed');

      await page.getByRole('button', { name: 'Edit Mobile' }).click();
      const edit = page.getByRole('form', { name: 'Edit Mobile' });
      await edit.getByLabel('Install token TTL (s)').fill('1800');
      await edit.getByLabel('Refresh token TTL (s)').fill('86400');
      await edit.getByLabel('Service token format').selectOption('jwt');
      await edit.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Saved “Mobile”.').waitFor();
      const edited = json(await adminRequest(rig.h, 'GET', `/apps/${clientId}`));
      assert.equal(edited.install_token_ttl, 1800);
      assert.equal(edited.refresh_token_ttl, 86400);
      assert.equal(edited.service_token_format, 'jwt');
      assert.equal(edited.access_token_ttl, 600, 'untouched fields keep their values');
      const [updated] = json(await adminRequest(rig.h, 'GET', '/audit?action=admin.app.updated&limit=1')).events;
      assert.deepEqual([...updated.detail.fields].sort(), ['installTokenTtl', 'refreshTokenTtl', 'serviceTokenFormat'], 'only what the operator changed is sent');
      await page.getByRole('row', { name: /Mobile/ }).getByText('1 d').waitFor();

      await page.getByRole('button', { name: 'Rotate secret of Mobile' }).click();
      const rotated = page.getByRole('region', { name: 'New client secret for “Mobile”' });
      const newSecret = await rotated.locator('input[name="client_secret"]').inputValue();
      rig.secrets.add(newSecret);
      assert.notEqual(newSecret, secret);
      const grant = (s: string) => postForm(rig.h, '/oauth/token', { grant_type: 'client_credentials', client_id: clientId, client_secret: s });
      assert.equal((await grant(secret)).statusCode, 401, 'the old secret stopped working');
      assert.equal((await grant(newSecret)).statusCode, 200);
      await rotated.getByRole('button', { name: 'Done, I saved it' }).click();
    });

    test('an invalid edit shows the API error next to the form', async () => {
      await openTab(page, 'Apps');
      await page.getByRole('button', { name: 'Edit Mobile' }).click();
      const edit = page.getByRole('form', { name: 'Edit Mobile' });
      await edit.getByLabel('Refresh reuse grace (s)').evaluate((input: { removeAttribute(name: string): void; value: string }) => {
        input.removeAttribute('max'); // past the browser's own check, to reach the API's
        input.value = '99999';
      });
      await edit.getByRole('button', { name: 'Save changes' }).click();
      const error = edit.getByRole('alert');
      await error.waitFor();
      assert.match(await error.innerText(), /refresh_reuse_grace_seconds/);
    });

    test('creates a master key (shown once) and revokes it; an app without keys says so', async () => {
      await openTab(page, 'Master keys');
      await page.getByText('No master keys for “default” yet — create one.').waitFor();
      await screenshot(page, 'operator-master-keys-empty');
      const create = page.getByRole('form', { name: 'Create a master key' });
      await create.getByLabel('App').selectOption({ label: `Mobile (${(await mobileApp()).client_id})` });
      await page.getByText('No master keys for “Mobile” yet — create one.').waitFor();
      await create.getByLabel('Name (optional)').fill('partner A');
      await create.getByRole('button', { name: 'Create master key' }).click();
      const key = await page.getByRole('region', { name: 'Master key created' }).locator('input[name="master_key"]').inputValue();
      assert.match(key, /^tkm_/);
      rig.secrets.add(key);
      const getToken = () => rig.h.app.inject({ method: 'POST', url: '/api/auth/v1.0/get_token/', headers: { authorization: `Token ${key}` } });
      assert.equal((await getToken()).statusCode, 201);
      await screenshot(page, 'operator-master-key-created');
      await page.getByRole('button', { name: 'Done, I saved it' }).click();
      assert.equal(await page.locator('input[name="master_key"]').count(), 0);

      await page.getByRole('button', { name: 'Revoke master key partner A' }).click();
      await page.getByRole('row', { name: /partner A/ }).getByText('revoked').waitFor();
      assert.equal((await getToken()).statusCode, 401);
    });

    test('creates a user, disables and re-enables it, resets its password', async () => {
      await openTab(page, 'Users');
      const create = page.getByRole('form', { name: 'Create a user' });
      await create.getByLabel('Username').fill('carol');
      await create.getByLabel('Password').fill('carol first password');
      await create.getByRole('button', { name: 'Create user' }).click();
      await page.getByText(/User “carol” created/).waitFor();
      const carol = (json(await adminRequest(rig.h, 'GET', '/users?limit=200')).users as { id: number; username: string }[]).find((u) => u.username === 'carol');
      assert.ok(carol);

      await page.getByRole('button', { name: 'Disable carol' }).click();
      await page.getByRole('row', { name: /carol/ }).getByText('disabled').waitFor();
      assert.equal(json(await adminRequest(rig.h, 'GET', `/users/${carol.id}`)).disabled, true);
      await page.getByRole('button', { name: 'Enable carol' }).click();
      await page.getByRole('row', { name: /carol/ }).getByText('active').waitFor();
      assert.equal(json(await adminRequest(rig.h, 'GET', `/users/${carol.id}`)).disabled, false);

      await page.getByRole('button', { name: 'Reset password of carol' }).click();
      const reset = page.getByRole('form', { name: 'Reset the password of carol' });
      await reset.getByLabel('New password').fill('carol second password');
      await reset.getByRole('button', { name: 'Set password' }).click();
      await page.getByText('Password of “carol” changed; their sessions were ended.').waitFor();
      await login(rig.h, { username: 'carol', password: 'carol second password' });
      await screenshot(page, 'operator-users');
    });

    test("shows a user's sessions by device with last use, and deauthorizes one", async () => {
      const erin = await createUser(rig.h, 'erin', 'erin password 1');
      const phone = await login(rig.h, erin, { device_info: 'Pixel 8' });
      const tablet = await login(rig.h, erin, { device_info: 'iPad Air' });
      rig.secrets.add(phone.access_token).add(tablet.access_token);
      await openTab(page, 'Users');
      await page.getByRole('button', { name: 'Sessions of erin' }).click();
      await page.getByRole('heading', { name: 'Sessions by device' }).waitFor();
      const phoneRow = page.getByRole('row', { name: /Pixel 8/ });
      await phoneRow.waitFor();
      assert.match(await phoneRow.locator('td[data-label="Last used"]').innerText(), /\d/);
      await page.getByRole('row', { name: /iPad Air/ }).waitFor();
      await screenshot(page, 'operator-sessions');

      await page.getByRole('button', { name: 'Deauthorize Pixel 8' }).click();
      await phoneRow.waitFor({ state: 'detached' });
      assert.equal((await me(rig.h, phone.access_token)).statusCode, 401, 'the deauthorized device lost its token');
      assert.equal((await me(rig.h, tablet.access_token)).statusCode, 200, 'the other device kept its own');
    });

    test('lists tokens by user and kind, and revokes one', async () => {
      const frank = await createUser(rig.h, 'frank', 'frank password 1');
      const session = await login(rig.h, frank, { device_info: 'Laptop' });
      rig.secrets.add(session.access_token).add(session.refresh_token);
      await openTab(page, 'Users');
      await page.getByRole('button', { name: 'Tokens of frank' }).click();
      const filters = page.getByRole('form', { name: 'Filter tokens' });
      await filters.getByLabel('Kind').selectOption('access');
      await filters.getByRole('button', { name: 'Show tokens' }).click();
      const revoke = page.getByRole('button', { name: /^Revoke access token/ });
      await revoke.waitFor();
      assert.equal(await revoke.count(), 1);
      await screenshot(page, 'operator-tokens');
      await revoke.click();
      await page.getByText('No tokens match these filters.').waitFor();
      assert.equal((await me(rig.h, session.access_token)).statusCode, 401);
    });

    test('rotates the signing keys', async () => {
      await openTab(page, 'Signing keys');
      const before = json(await adminRequest(rig.h, 'GET', '/signing-keys')).keys.find((k: { state: string }) => k.state === 'current');
      await page.getByRole('button', { name: 'Rotate signing keys' }).click();
      const status = page.getByText(/^Rotated: /);
      await status.waitFor();
      const current = json(await adminRequest(rig.h, 'GET', '/signing-keys')).keys.find((k: { state: string }) => k.state === 'current');
      assert.notEqual(current.kid, before?.kid);
      assert.match(await status.innerText(), new RegExp(current.kid));
      await page.getByRole('row', { name: new RegExp(current.kid) }).getByText('current').waitFor();
      await screenshot(page, 'operator-signing-keys');
    });

    test('filters the audit log by action and by user', async () => {
      await openTab(page, 'Audit log');
      const filters = page.getByRole('form', { name: 'Filter the audit log' });
      await filters.getByLabel('Action').fill('admin.user.created');
      await filters.getByRole('button', { name: 'Filter' }).click();
      await page.getByText(/^\d+ events?/).filter({ hasText: 'newest first' }).waitFor();
      await page.waitForFunction(() => [...document.querySelectorAll('td[data-label="Action"]')].every((cell) => cell.textContent === 'admin.user.created'));
      const actions = await page.locator('td[data-label="Action"]').allInnerTexts();
      assert.ok(actions.length >= 3, `carol, erin, frank at least: ${actions.join()}`);

      const carol = (json(await adminRequest(rig.h, 'GET', '/users?limit=200')).users as { id: number; username: string }[]).find((u) => u.username === 'carol');
      await filters.getByLabel('Action').fill('admin.user.disabled');
      await filters.getByLabel('User id').fill(String(carol?.id));
      await filters.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('1 event, newest first.').waitFor();
      await screenshot(page, 'operator-audit');

      await filters.getByLabel('Action').fill('no.such.action');
      await filters.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('No events match these filters.').waitFor();
    });
  });

  userFlows(getRig);
  securityChecks(getRig);
});

async function mobileApp(): Promise<{ id: string; client_id: string }> {
  const apps = json(await adminRequest(rig.h, 'GET', '/apps')).apps as { id: string; name: string; client_id: string }[];
  const found = apps.find((a) => a.name === 'Mobile');
  assert.ok(found, 'the app the first test made');
  return found;
}
