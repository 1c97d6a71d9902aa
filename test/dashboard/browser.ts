import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';

/* Functions given to page.evaluate run in the browser; the test program has no DOM types. */
declare const document: any, localStorage: any, sessionStorage: any;

/** Debian's Chromium; `.ci/run` installs it when missing. Never a browser download. */
export const CHROMIUM = '/usr/bin/chromium';
export const SKIP = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}: .ci/run installs Debian's chromium package`;

export const SHOTS = new URL('../../test-results/dashboard/', import.meta.url);

/** One real tokend on a loopback port and one headless browser, shared by every test of the suite. */
export interface Rig {
  h: Harness;
  base: string;
  browser: Browser;
  /** Every request URL any page made, and every secret the tests learnt: none may appear in the other. */
  requestUrls: string[];
  secrets: Set<string>;
  /** Content-Security-Policy violations and uncaught errors, from every page. */
  problems: string[];
  close(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  mkdirSync(SHOTS, { recursive: true });
  // The real clock's time, so expiries the browser sees agree with the tokens'.
  const h = await startHarness({ startAt: Date.now() });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = h.app.server.address() as AddressInfo;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const rig: Rig = {
    h,
    base: `http://127.0.0.1:${port}`,
    browser,
    requestUrls: [],
    secrets: new Set([ADMIN_TOKEN]),
    problems: [],
    async close() {
      await browser.close();
      await h.close();
    },
  };
  return rig;
}

export interface Tab {
  context: BrowserContext;
  page: Page;
}

/** A fresh browser context (no shared memory, storage or cookies) with the dashboard open. */
export async function openDashboard(rig: Rig, width = 1280, height = 900): Promise<Tab> {
  const context = await rig.browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on('request', (request) => rig.requestUrls.push(request.url()));
  page.on('console', (message) => {
    if (/Content Security Policy|CSP/i.test(message.text())) rig.problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => rig.problems.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event: { violatedDirective: string; blockedURI: string }) => console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));
  });
  await page.goto(`${rig.base}/dashboard`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  return { context, page };
}

export async function signInOperator(page: Page, token = ADMIN_TOKEN): Promise<void> {
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in as operator' }).click();
}

export async function signInUser(page: Page, user: { username: string; password: string }, clientId?: string): Promise<void> {
  const form = page.getByRole('form', { name: 'User sign-in' });
  await form.getByLabel('Username').fill(user.username);
  await form.getByLabel('Password').fill(user.password);
  if (clientId !== undefined) await form.getByLabel('App (client_id)').fill(clientId);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

export async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name, exact: true }).click();
  await page.locator('[role="tabpanel"] h2').first().waitFor();
  await page.waitForFunction(() => document.querySelector('[role="tabpanel"]')?.textContent?.includes('Loading…') === false);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: true });
}

/** Whatever the page keeps outside its own memory. */
export async function storedState(page: Page): Promise<{ local: number; session: number; cookie: string }> {
  return page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
}
