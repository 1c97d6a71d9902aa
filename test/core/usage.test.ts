import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UsageRecorder } from '../../src/core/usage.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { newApp, newToken, T0, tempSqliteStore } from '../store/fixtures.js';

describe('last use, batched off the request path', () => {
  let opened: Awaited<ReturnType<typeof tempSqliteStore>>;
  let store: KyselyStore;
  before(async () => {
    opened = await tempSqliteStore();
    store = opened.store;
  });
  after(() => opened.close());

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
