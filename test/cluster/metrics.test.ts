import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REDIS_URL } from '../helpers/cluster.js';

/*
 * GET /metrics on a real `tokend serve` with Redis: the configuration's
 * metrics token guards it, and the RedisBus's heartbeat round trip reaches
 * the fan-out lag histogram through openRuntime.
 */

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');
const METRICS_TOKEN = 'metrics-test-token-0123456789abcdefghijkl';

describe('tokend serve with Redis and TOKEND_METRICS_TOKEN', () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokend-metrics-'));
    child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0'], {
      env: {
        ...process.env,
        TOKEND_DATABASE_URL: `sqlite:${join(dir, 'tokend.db')}`,
        TOKEND_REDIS_URL: REDIS_URL,
        TOKEND_METRICS_TOKEN: METRICS_TOKEN,
        TOKEND_LOG_LEVEL: 'silent',
        TOKEND_SWEEP_INTERVAL: '0',
      },
    });
    let output = '';
    url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start:\n${output}`)), 30_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    });
  });
  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
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
