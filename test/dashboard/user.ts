import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { createUser, login, me } from '../helpers/harness.js';
import { openDashboard, openTab, screenshot, signInUser, storedState, type Rig } from './browser.js';

/* Functions given to page.evaluate run in the browser; the test program has no DOM types. */
declare const document: any, localStorage: any, sessionStorage: any;

/** The dashboard user's view: seed 002's API tab, install tokens, own sessions. */
export function userFlows(getRig: () => Rig): void {
  describe('dashboard-user view', () => {
    let rig: Rig;
    let page: Page;
    const dave = { username: 'dave', password: 'dave password 1' };

    before(async () => {
      rig = getRig();
      await createUser(rig.h, dave.username, dave.password);
      rig.secrets.add(dave.password);
      ({ page } = await openDashboard(rig));
      await signInUser(page, dave);
      await page.getByRole('tab', { name: 'API tokens' }).waitFor();
    });
    after(() => page.context().close());

    test('signs in with username and password; the session lives in page memory only', async () => {
      await page.getByText('dave · default').waitFor();
      assert.deepEqual(await storedState(page), { local: 0, session: 0, cookie: '' });
    });

    test('creates an API token, shown once, and revokes it', async () => {
      await openTab(page, 'API tokens');
      await page.getByText('No API tokens yet — create one for a script or integration.').waitFor();
      await screenshot(page, 'user-api-tokens-empty');
      const create = page.getByRole('form', { name: 'Create an API token' });
      await create.getByLabel('Name').fill('nightly export');
      await create.getByRole('button', { name: 'Create token' }).click();
      const token = await page.getByRole('region', { name: 'API token “nightly export”' }).locator('input[name="api_token"]').inputValue();
      assert.match(token, /^tkp_/);
      rig.secrets.add(token);
      assert.equal((await me(rig.h, token, 'Token')).statusCode, 200, 'the token works as `Token <key>`');
      await page.getByRole('row', { name: /nightly export/ }).waitFor();
      await screenshot(page, 'user-api-token-created');
      await page.getByRole('button', { name: 'Done, I saved it' }).click();
      assert.equal(await page.locator('input[name="api_token"]').count(), 0);

      await page.getByRole('button', { name: 'Revoke nightly export' }).click();
      await page.getByText('No API tokens yet — create one for a script or integration.').waitFor();
      assert.equal((await me(rig.h, token, 'Token')).statusCode, 401);
    });

    test('generates an install token with its deep link, QR code and a running countdown', async () => {
      await openTab(page, 'Install tokens');
      const installId = 'c12b156b-8592-4545-989b-4468a3936983';
      const form = page.getByRole('form', { name: 'Generate an install token' });
      await form.getByLabel('Install id').fill(installId);
      await form.getByRole('button', { name: 'Generate' }).click();
      const shown = page.getByRole('region', { name: `Install token for ${installId}` });
      const token = await shown.locator('input[name="install_token"]').inputValue();
      const deeplink = await shown.locator('input[name="deeplink"]').inputValue();
      rig.secrets.add(token);
      assert.match(token, /^tki_/);
      assert.equal(deeplink, `tokend://auth?token=${encodeURIComponent(token)}`);

      const qr = shown.getByRole('img', { name: /QR code of the deep link/ });
      await qr.waitFor();
      assert.ok(await qr.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0), 'the QR image decoded');
      assert.match((await qr.getAttribute('src')) ?? '', /^data:image\/svg\+xml;base64,/);

      const countdown = shown.getByRole('timer');
      const first = await countdown.innerText();
      assert.match(first, /^(59:[0-5]\d|60:00)$/);
      await page.waitForFunction((start) => document.querySelector('[role="timer"]')?.textContent !== start, first, { timeout: 3000 });
      assert.ok((await countdown.innerText()) < first, 'the countdown runs down');

      const used = await rig.h.app.inject({ method: 'GET', url: `/v1/me?installid=${installId}`, headers: { authorization: `Token ${token}` } });
      assert.equal(used.statusCode, 200, used.body);
      await screenshot(page, 'user-install-token');
      await shown.getByRole('button', { name: 'Done, I saved it' }).click();
      assert.equal(await page.locator('input[name="install_token"]').count(), 0);
    });

    test('a bad install id shows the error next to the form', async () => {
      await openTab(page, 'Install tokens');
      const form = page.getByRole('form', { name: 'Generate an install token' });
      await form.getByLabel('Install id').evaluate((input: { removeAttribute(name: string): void; value: string }) => input.removeAttribute('pattern'));
      await form.getByLabel('Install id').fill('has spaces in it');
      await form.getByRole('button', { name: 'Generate' }).click();
      await form.getByRole('alert').waitFor();
      assert.match(await form.getByRole('alert').innerText(), /installid/);
    });

    test('lists own sessions and devices and deauthorizes one', async () => {
      const phone = await login(rig.h, dave, { device_info: 'Galaxy S24' });
      rig.secrets.add(phone.access_token).add(phone.refresh_token);
      await openTab(page, 'Sessions & devices');
      const row = page.getByRole('row', { name: /Galaxy S24/ });
      await row.waitFor();
      await page.getByRole('row', { name: /Dashboard \(Chromium/ }).getByText('this page').waitFor();
      await screenshot(page, 'user-sessions');
      await page.getByRole('button', { name: 'Deauthorize Galaxy S24' }).click();
      await row.waitFor({ state: 'detached' });
      assert.equal((await me(rig.h, phone.access_token)).statusCode, 401);
      await page.getByText('dave · default').waitFor(); // still signed in here
    });

    test('an expired access token is renewed with the refresh token, in memory, without signing out', async () => {
      const seen = rig.requestUrls.length;
      rig.h.clock.advance(7201 * 1000); // past the access token's 7200 s
      // Two calls at once, both refused: one refresh serves both (a second would be refresh-token reuse and end the session).
      const answers = await page.evaluate(async () => {
        const path = '/dashboard/api.js';
        const api = await import(path);
        const [mine, sessions] = await Promise.all([api.asUser('GET', '/v1/me'), api.asUser('GET', '/v1/sessions')]);
        return [mine.username, sessions.sessions.length > 0];
      });
      assert.deepEqual(answers, ['dave', true]);
      await openTab(page, 'API tokens');
      await page.getByText('No API tokens yet — create one for a script or integration.').waitFor();
      const renewals = rig.requestUrls.slice(seen).filter((url) => url.endsWith('/api/auth/v1/access_tokens'));
      assert.equal(renewals.length, 1, 'one refresh');
      await page.getByText('dave · default').waitFor();
      assert.deepEqual(await storedState(page), { local: 0, session: 0, cookie: '' });
    });

    test("deauthorizing this page's own session signs it out and says why", async () => {
      await openTab(page, 'Sessions & devices');
      await page.getByRole('button', { name: /^Sign out here/ }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByRole('status').getByText(/session ended/).waitFor();
      assert.equal(await page.getByRole('tab').count(), 0);
    });

    test('a wrong password shows the error in place', async () => {
      const { page: fresh, context } = await openDashboard(rig);
      await createUser(rig.h, 'grace', 'grace password 1');
      await signInUser(fresh, { username: 'grace', password: 'not her password' });
      const alert = fresh.getByRole('form', { name: 'User sign-in' }).getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /.+/);
      assert.equal(await fresh.getByRole('tab').count(), 0, 'still on the sign-in page');
      await screenshot(fresh, 'signin-wrong-password');
      rig.secrets.add('not her password');
      await context.close();
    });
  });
}
