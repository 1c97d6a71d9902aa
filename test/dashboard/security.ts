import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ADMIN_TOKEN, createUser } from '../helpers/harness.js';
import { openDashboard, openTab, screenshot, signInOperator, signInUser, type Rig } from './browser.js';

/* Functions given to page.evaluate run in the browser; the test program has no DOM types. */
declare const document: any, localStorage: any, sessionStorage: any;

const OPERATOR_TABS = ['Apps', 'Master keys', 'Users', 'Sessions', 'Tokens', 'Signing keys', 'Audit log'];
const USER_TABS = ['API tokens', 'Install tokens', 'Sessions & devices'];

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-$/, '');

async function assertNoHorizontalOverflow(page: Page, where: string): Promise<void> {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `${where}: the page is ${width} px wide at 390`);
}

/** Headers, the session's whereabouts, secrets in URLs, CSP violations, and the layout at two widths. */
export function securityChecks(getRig: () => Rig): void {
  describe('security', () => {
    test('every dashboard answer has the strict CSP and framing, referrer and opener headers', async () => {
      const { h } = getRig();
      for (const url of ['/dashboard', '/dashboard/', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/favicon.svg']) {
        const response = await h.app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 200, url);
        const csp = String(response.headers['content-security-policy']);
        assert.match(csp, /default-src 'none'/, url);
        assert.match(csp, /script-src 'self';/, url);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url);
        assert.match(csp, /frame-ancestors 'none'/, url);
        assert.equal(response.headers['x-frame-options'], 'DENY', url);
        assert.equal(response.headers['referrer-policy'], 'no-referrer', url);
        assert.equal(response.headers['cross-origin-opener-policy'], 'same-origin', url);
        assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
        assert.ok(response.headers.etag, url);
      }
      const html = await h.app.inject({ method: 'GET', url: '/dashboard' });
      assert.match(String(html.headers['content-type']), /^text\/html/);
      assert.doesNotMatch(html.body, /<script>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler');
      assert.match(String((await h.app.inject({ method: 'GET', url: '/dashboard/app.js' })).headers['content-type']), /^text\/javascript/);
    });

    test('serves every file of dashboard/ but its tsconfig, so no module the page imports is missing', async () => {
      const { h } = getRig();
      const files = readdirSync(new URL('../../dashboard/', import.meta.url)).filter((name) => name !== 'tsconfig.json');
      for (const name of files) assert.equal((await h.app.inject({ method: 'GET', url: `/dashboard/${name}` })).statusCode, 200, name);
    });

    test('serves only its allow-list, only by GET and HEAD, with ETag revalidation', async () => {
      const { h } = getRig();
      for (const url of ['/dashboard/package.json', '/dashboard/..%2Fpackage.json', '/dashboard/%2e%2e%2fsrc%2fconfig.ts', '/dashboard/tsconfig.json', '/dashboard/constructor']) {
        const missing = await h.app.inject({ method: 'GET', url });
        assert.equal(missing.statusCode, 404, url);
        assert.match(String(missing.headers['content-security-policy']), /default-src 'none'/, url);
      }
      const head = await h.app.inject({ method: 'HEAD', url: '/dashboard/app.js' });
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
      const post = await h.app.inject({ method: 'POST', url: '/dashboard', headers: { 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(post.statusCode, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
      assert.match(String(post.headers['content-security-policy']), /default-src 'none'/);
      assert.equal(JSON.parse(post.body).error, 'invalid_request');
      const first = await h.app.inject({ method: 'GET', url: '/dashboard/dom.js' });
      const again = await h.app.inject({ method: 'GET', url: '/dashboard/dom.js', headers: { 'if-none-match': String(first.headers.etag) } });
      assert.equal(again.statusCode, 304);
      assert.equal(again.body, '');
    });

    test('a bad operator token shows the error in place', async () => {
      const { page, context } = await openDashboard(getRig());
      await signInOperator(page, `${ADMIN_TOKEN}-wrong`);
      const alert = page.getByRole('form', { name: 'Operator sign-in' }).getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /token/i);
      assert.equal(await page.getByRole('tab').count(), 0);
      await screenshot(page, 'signin-bad-operator-token');
      await context.close();
    });

    test('data is shown as text, never parsed as markup', async () => {
      const rig = getRig();
      const hostile = '<img src=x onerror=alert(1)><b>mallory</b>';
      await createUser(rig.h, hostile, 'mallory password 1');
      const { page, context } = await openDashboard(rig);
      let dialogs = 0;
      page.on('dialog', () => void dialogs++);
      await signInOperator(page);
      await openTab(page, 'Users');
      await page.getByText(hostile).first().waitFor();
      assert.equal(await page.locator('[role="tabpanel"] img, [role="tabpanel"] b').count(), 0);
      assert.equal(dialogs, 0);
      await context.close();
    });

    test('tabs work from the keyboard', async () => {
      const { page, context } = await openDashboard(getRig());
      await signInOperator(page);
      await page.getByRole('tab', { name: 'Apps' }).focus();
      await page.keyboard.press('ArrowRight');
      await page.getByRole('heading', { name: 'Master keys' }).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Master keys');
      await page.keyboard.press('End');
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      await page.keyboard.press('Home');
      await page.getByRole('heading', { name: 'Apps' }).waitFor();
      await context.close();
    });

    for (const width of [1280, 390]) {
      test(`every view at ${width} px: screenshots${width === 390 ? ', and no page-wide horizontal scroll' : ''}`, async () => {
        const rig = getRig();
        const { page, context } = await openDashboard(rig, width, width === 390 ? 844 : 900);
        await screenshot(page, `signin-${width}`);
        if (width === 390) await assertNoHorizontalOverflow(page, 'sign-in');
        await signInOperator(page);
        for (const tab of OPERATOR_TABS) {
          await openTab(page, tab);
          await screenshot(page, `operator-${slug(tab)}-${width}`);
          if (width === 390) await assertNoHorizontalOverflow(page, `operator ${tab}`);
        }
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();

        const user = { username: `layout${width}`, password: 'layout password 1' };
        await createUser(rig.h, user.username, user.password);
        await signInUser(page, user);
        await page.getByRole('tab', { name: 'API tokens' }).waitFor();
        const create = page.getByRole('form', { name: 'Create an API token' });
        await create.getByLabel('Name').fill('deploy bot');
        await create.getByRole('button', { name: 'Create token' }).click();
        rig.secrets.add(await page.locator('input[name="api_token"]').inputValue());
        await page.getByRole('row', { name: /deploy bot/ }).waitFor();
        for (const tab of USER_TABS) {
          await openTab(page, tab);
          if (tab === 'Install tokens') {
            await page.getByLabel('Install id').fill(`device-${width}`);
            await page.getByRole('button', { name: 'Generate' }).click();
            rig.secrets.add(await page.locator('input[name="install_token"]').inputValue());
            await page.getByRole('timer').waitFor();
          }
          await screenshot(page, `user-${slug(tab)}-${width}`);
          if (width === 390) await assertNoHorizontalOverflow(page, `user ${tab}`);
        }
        await context.close();
      });
    }

    test('no request the pages made carried a secret in its URL', () => {
      const rig = getRig();
      assert.ok(rig.requestUrls.length > 50, `requests seen: ${rig.requestUrls.length}`);
      assert.ok(rig.secrets.size > 10, `secrets known: ${rig.secrets.size}`);
      for (const url of rig.requestUrls) {
        const decoded = decodeURIComponent(url);
        for (const secret of rig.secrets) assert.ok(!url.includes(secret) && !decoded.includes(secret), `a secret in ${url.slice(0, 80)}…`);
      }
    });

    test('no Content-Security-Policy violation or uncaught error on any page', () => {
      assert.deepEqual(getRig().problems, []);
    });
  });
}
