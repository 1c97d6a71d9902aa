import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../../src/core/apps.js';
import type { Core } from '../../src/core/context.js';
import { createCore } from '../../src/core/create.js';
import { tokenKey } from '../../src/core/tokens.js';
import { createUser } from '../../src/core/users.js';
import { openSqliteStore } from '../../src/store/sqlite.js';

/** `tokend install-token` (SPEC §8) against a SQLite file, as an operator runs it. */

const INSTALL = 'c12b156b-8592-4545-989b-4468a3936983';

describe('tokend install-token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokend-install-cli-'));
  const database = join(dir, 'tokend.db');
  const main = join(import.meta.dirname, '../../src/cli/main.ts');
  const tokend = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', main, 'install-token', ...args, '--database-url', `sqlite:${database}`], { timeout: 60_000 }, (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      });
    });
  let clientId = '';
  let userId = 0;

  /** Opens the CLI's SQLite file in this process: to set it up, and to read back what the CLI stored. */
  async function withStore<T>(body: (core: Core) => Promise<T>): Promise<T> {
    const store = openSqliteStore(database);
    await store.migrate();
    const core = await createCore({ settings: { issuer: 'http://tokend.test', env: 'production', adminToken: null, loginLimits: { perUser: 5, perIp: 50, windowSeconds: 900 } }, store });
    try {
      return await body(core);
    } finally {
      await core.usage.stop();
      await store.close();
    }
  }
  const stored = (token: string) => withStore((core) => core.store.findTokenByHash(tokenKey(token)));

  before(async () => {
    await withStore(async (core) => {
      clientId = (await createApp(core, { name: 'devices', deeplinkTemplate: 'demo://login?token={token}' }, 'system')).app.clientId;
      userId = (await createUser(core, { username: 'Bob', password: 'bob password' }, 'system')).id;
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('prints the token, its deep link and a QR code of the link drawn for the terminal', async () => {
    const result = await tokend('--app', clientId, '--install-id', INSTALL);
    assert.equal(result.code, 0, result.stderr);
    const token = /^token:\s+(tki_\w{38})$/m.exec(result.stdout)?.[1];
    assert.ok(token, result.stdout);
    assert.match(result.stdout, new RegExp(`^installid:\\s+${INSTALL}$`, 'm'));
    assert.match(result.stdout, /^expires_in:\s+3600$/m);
    assert.match(result.stdout, new RegExp(`^deeplink:\\s+demo://login\\?token=${token}$`, 'm'));
    const qrLines = result.stdout.split('\n').filter((line) => /[▄▀█]{3}/.test(line));
    assert.ok(qrLines.length >= 10, `a QR block: ${result.stdout}`);
    assert.match(result.stderr, /Save the secret now/);
    const row = await stored(token);
    assert.equal(row?.kind, 'install');
    assert.equal(row?.userId, null, "without --user it is the app's alone");
    assert.equal(row?.installId, INSTALL);
  });

  test('--json prints the same fields as /v3/users/token and no QR; --user binds it to that user', async () => {
    const result = await tokend('--app', clientId, '--install-id', 'device-7', '--user', 'BOB', '--json');
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(body).sort(), ['deeplink', 'expires_at', 'expires_in', 'installid', 'token']);
    assert.equal(body.installid, 'device-7');
    assert.equal(body.expires_in, 3600);
    assert.match(body.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(body.deeplink, `demo://login?token=${body.token}`);
    assert.equal((await stored(body.token))?.userId, userId);
  });

  test('--help exits 0; an unknown app or user or a bad install id fails with one line', async () => {
    const [help, ...failures] = await Promise.all([
      tokend('--help'),
      tokend('--app', 'app_nope', '--install-id', 'x'),
      tokend('--app', clientId, '--install-id', 'x', '--user', 'nobody'),
      tokend('--app', clientId, '--install-id', 'has space'),
    ]);
    assert.equal(help!.code, 0);
    for (const flag of ['--app', '--install-id', '--user', '--json', '--database-url']) assert.match(help!.stdout, new RegExp(flag));
    for (const failed of failures) {
      assert.equal(failed.code, 1, failed.stdout);
      assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr);
      assert.equal(failed.stdout, '');
    }
  });
});
