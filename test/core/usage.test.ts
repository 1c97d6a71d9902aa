import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UsageRecorder } from '../../src/core/usage.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { newApp, newToken, T0 } from '../store/fixtures.js';

describe('last use, batched off the request path', () => {
  let dir: string;
  let store: KyselyStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokend-usage-'));
    store = openSqliteStore(join(dir, 'tokend.db'));
    await store.migrate();
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a flush of 1,234 tokens writes every one, in pieces that let the event loop turn between them', async () => {
    const app = newApp();
    await store.insertApp(app);
    const tokens = Array.from({ length: 1_234 }, () => newToken('access', { appId: app.id }));
    await store.insertTokens(tokens);
    const usage = new UsageRecorder(store);
    for (const token of tokens) usage.seen(token.id, null, T0 + 5_000);

    let turns = 0;
    const counting = setInterval(() => (turns += 1), 0);
    await usage.flush();
    clearInterval(counting);

    for (const token of tokens) assert.equal((await store.findTokenById(token.id))?.lastUsedAt, T0 + 5_000);
    // 1,234 rows in pieces of 500: three transactions, with turns of the event loop between them.
    assert.ok(turns >= 2, `the event loop turned ${turns} times during the flush`);
  });
});
