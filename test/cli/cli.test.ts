import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exited, startServer } from '../helpers/serve.js';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'tokend-cli-'));
const env = { ...process.env, TOKEND_DATABASE_URL: `sqlite:${join(dir, 'tokend.db')}`, TOKEND_LOG_LEVEL: 'warn' };

function tokend(args: string[], input?: string, extraEnv: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...env, ...extraEnv }, input, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const startTokend = (extraEnv: Record<string, string> = {}) => startServer({ env: { ...env, ...extraEnv } });

after(() => rmSync(dir, { recursive: true, force: true }));

describe('tokend command line', () => {
  let adminToken = '';

  before(() => {
    const created = tokend(['admin-token', 'create', '--name', 'tests', '--json']);
    assert.equal(created.code, 0, created.stderr);
    adminToken = JSON.parse(created.stdout).token;
  });

  test('every command answers --help', () => {
    for (const args of [[], ['serve'], ['migrate'], ['admin-token', 'create'], ['apps', 'create'], ['users', 'create'], ['master-keys', 'create'], ['keys', 'rotate']]) {
      const result = tokend([...args, '--help']);
      assert.equal(result.code, 0, `${args.join(' ')} --help`);
      assert.match(result.stdout, /Usage: tokend/);
    }
    const serveHelp = tokend(['serve', '--help']).stdout;
    for (const flag of ['--host', '--port', '--database-url', '--redis-url', '--issuer', '--env', '--admin-token', '--log-level']) assert.match(serveHelp, new RegExp(flag));
  });

  test('the first command on an empty store creates the default app and shows its secret once', () => {
    assert.match(tokend(['admin-token', 'create']).stderr, /^/); // store already made in before(): no second notice
    const fresh = join(dir, 'fresh.db');
    const first = tokend(['migrate'], undefined, { TOKEND_DATABASE_URL: `sqlite:${fresh}` });
    assert.equal(first.code, 0);
    assert.match(first.stderr, /created the app "default"/);
    assert.match(first.stderr, /client_secret: tkc_/);
    const second = tokend(['migrate'], undefined, { TOKEND_DATABASE_URL: `sqlite:${fresh}` });
    assert.doesNotMatch(second.stdout + second.stderr, /client_secret/);
  });

  test('a bad setting stops start-up with one line naming the variable', () => {
    const result = tokend(['serve'], undefined, { TOKEND_PORT: 'eighty' });
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /TOKEND_PORT/);
    const flag = tokend(['serve', '--env', 'staging']);
    assert.match(flag.stderr, /TOKEND_ENV must be production or development/);
  });

  test('users create reads the password from stdin and refuses to run without it', () => {
    const made = tokend(['users', 'create', '--username', 'carol', '--password-stdin', '--json'], 'pass word with spaces\n');
    assert.equal(made.code, 0, made.stderr);
    assert.equal(JSON.parse(made.stdout).username, 'carol');
    const refused = tokend(['users', 'create', '--username', 'dave']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--password-stdin/);
    const taken = tokend(['users', 'create', '--username', 'CAROL', '--password-stdin'], 'x');
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /taken/);
  });

  test('apps, master keys and key rotation print their secrets once, as JSON on request', () => {
    const app = tokend(['apps', 'create', '--name', 'partner', '--scopes', 'read,write', '--access-token-format', 'jwt', '--json']);
    assert.equal(app.code, 0, app.stderr);
    const created = JSON.parse(app.stdout);
    assert.match(created.client_secret, /^tkc_/);
    const key = tokend(['master-keys', 'create', '--app', created.client_id, '--json']);
    assert.equal(key.code, 0, key.stderr);
    assert.match(JSON.parse(key.stdout).key, /^tkm_/);
    assert.equal(tokend(['master-keys', 'create', '--app', 'app_nope']).code, 1);
    const rotated = tokend(['keys', 'rotate', '--alg', 'EdDSA', '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(JSON.parse(rotated.stdout).alg, 'EdDSA');
    assert.notEqual(tokend(['apps', 'create', '--name', 'x', '--access-token-format', 'xml']).code, 0);
  });

  test('serve answers on its port, logs in a CLI-made user, and drains a login in flight on SIGTERM', async () => {
    const app = JSON.parse(tokend(['apps', 'create', '--name', 'served', '--json']).stdout);
    tokend(['users', 'create', '--username', 'erin', '--password-stdin'], 'erin-password');
    const { child, url, output } = await startTokend();
    try {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      const apps = await fetch(`${url}/admin/v1/apps`, { headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(apps.status, 200);
      const body = new URLSearchParams({ grant_type: 'password', username: 'ERIN', password: 'erin-password', client_id: app.client_id, client_secret: app.client_secret });
      const inFlight = fetch(`${url}/oauth/token`, { method: 'POST', body });
      await new Promise((resolve) => setTimeout(resolve, 10));
      const code = exited(child);
      child.kill('SIGTERM');
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.match(((await response.json()) as { access_token: string }).access_token, /^tka_/);
      assert.equal(await code, 0, output());
    } finally {
      child.kill('SIGKILL');
    }
  });
});
