import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REDIS_URL } from '../helpers/cluster.js';
import { exited, startServer } from '../helpers/serve.js';

/*
 * GET /metrics on a real `tokend serve` with Redis: the configuration's
 * metrics token guards it, and the RedisBus's heartbeat round trip reaches
 * the fan-out lag histogram through openRuntime.
 */

const METRICS_TOKEN = 'metrics-test-token-0123456789abcdefghijkl';

describe('tokend serve with Redis and TOKEND_METRICS_TOKEN', () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokend-metrics-'));
    ({ child, url } = await startServer({
      env: {
        TOKEND_DATABASE_URL: `sqlite:${join(dir, 'tokend.db')}`,
        TOKEND_REDIS_URL: REDIS_URL,
        TOKEND_METRICS_TOKEN: METRICS_TOKEN,
        TOKEND_LOG_LEVEL: 'silent',
        TOKEND_SWEEP_INTERVAL: '0',
      },
    }));
  });
  after(async () => {
    if (child.exitCode === null) {
      const stopped = exited(child);
      child.kill('SIGTERM');
      await stopped;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = (authorization?: string) => fetch(`${url}/metrics`, { headers: authorization === undefined ? {} : { authorization } });

  test('/metrics refuses a scrape without the metrics token', async () => {
    const refused = await scrape();
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_token');
    assert.equal((await scrape('Bearer not-the-metrics-token')).status, 401);
  });

  test('the heartbeat round trip through Redis shows as fan-out lag, and delivery as trusted', async () => {
    let text = '';
    let count = 0;
    for (const deadline = Date.now() + 3_000; count === 0 && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      const response = await scrape(`Bearer ${METRICS_TOKEN}`);
      assert.equal(response.status, 200);
      text = await response.text();
      count = Number(/^tokend_revocation_fanout_lag_seconds_count (\S+)$/m.exec(text)?.[1]);
    }
    assert.ok(count > 0, 'at least one heartbeat came back');
    const sum = Number(/^tokend_revocation_fanout_lag_seconds_sum (\S+)$/m.exec(text)?.[1]);
    assert.ok(sum > 0 && sum / count < 1, `a mean lag of ${sum / count} s is under SPEC §10's 1 s`);
    assert.match(text, /^tokend_revocation_delivery_trusted 1$/m);
  });
});
