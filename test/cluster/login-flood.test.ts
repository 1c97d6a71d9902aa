import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exited, startServer } from '../helpers/serve.js';

/*
 * Credential attacks on a real `tokend serve` (SQLite file, real HTTP on
 * loopback), SPEC §9: a flood of oversized logins is refused before any
 * work; a flood of maximum-length wrong passwords queues or gets 429 and
 * never exhausts memory or starves token verification; an unknown user and
 * a wrong password take the same time. The login limits are set high so that
 * they do not hide what the hashing queue does. Figures are printed.
 */

const ADMIN = 'login-flood-test-operator-token-0123456789abcdef';
const USERNAME = 'flood-alice';
const PASSWORD = 'flood-alice-correct-password';
const MiB = 1024 * 1024;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
  ms: number;
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
const describeMs = (values: number[]): string =>
  `n=${values.length} p10=${quantile(values, 0.1).toFixed(1)} p50=${quantile(values, 0.5).toFixed(1)} p90=${quantile(values, 0.9).toFixed(1)} p99=${quantile(values, 0.99).toFixed(1)} max=${Math.max(...values).toFixed(1)} ms`;

/** The child's resident set in bytes, from /proc (Linux). */
function rss(child: ChildProcess): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  assert.ok(match !== null, 'VmRSS is readable');
  return Number(match[1]) * 1024;
}

describe('credential attacks on a real tokend serve', { timeout: 90_000 }, () => {
  let dir: string;
  let child: ChildProcess;
  let url: string;
  let client: { client_id: string; client_secret: string };
  let accessToken: string;

  async function login(body: string | Uint8Array, contentType: string): Promise<Answer> {
    const started = performance.now();
    const response = await fetch(`${url}/oauth/token`, { method: 'POST', headers: { 'content-type': contentType }, body });
    const text = await response.text();
    const ms = performance.now() - started;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { unparsable: text.slice(0, 200) };
    }
    return { status: response.status, body: parsed, retryAfter: response.headers.get('retry-after'), ms };
  }

  /**
   * Sends a login over a raw socket (`chunked`: in 64 KiB chunks without
   * Content-Length) and reads the answer. fetch cannot: the server answers
   * 413 and may close the connection while the upload is still going, and
   * fetch then reports only the EPIPE, never the answer it was sent.
   */
  function rawLogin(body: Uint8Array, contentType: string, chunked: boolean): Promise<Answer> {
    const { hostname, port } = new URL(url);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let received = '';
      const timer = setTimeout(() => socket.destroy(), 10_000);
      const answered = () => {
        const [head, rest] = received.split('\r\n\r\n');
        const length = /^content-length: (\d+)$/im.exec(head ?? '');
        return rest !== undefined && length !== null && Buffer.byteLength(rest, 'latin1') >= Number(length[1]);
      };
      socket.on('connect', async () => {
        const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${body.length}`;
        socket.write(`POST /oauth/token HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: ${contentType}\r\n${framing}\r\n\r\n`);
        for (let offset = 0; offset < body.length && !socket.destroyed && received === ''; offset += 64 * 1024) {
          const chunk = body.subarray(offset, offset + 64 * 1024);
          const flushed = chunked ? socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n') : socket.write(chunk);
          if (!flushed) await new Promise((drained) => socket.once('drain', drained).once('close', drained));
        }
        if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      });
      socket.on('data', (data: Buffer) => {
        received += data.toString('latin1');
        if (answered()) socket.destroy(); // the answer is whole; a kept-alive connection need not linger
      });
      socket.on('error', () => {}); // EPIPE/ECONNRESET once the server has answered and closed: judged by what was received
      socket.on('close', () => {
        clearTimeout(timer);
        const status = /^HTTP\/1\.1 (\d{3})/.exec(received);
        // Status 0: the connection was reset before any answer reached us (the server closed with our upload unread).
        if (received === '') return resolve({ status: 0, body: {}, retryAfter: null, ms: performance.now() - started });
        if (status === null || !answered()) return reject(new Error(`no whole HTTP answer: ${JSON.stringify(received.slice(0, 300))}`));
        const [head = '', rest = ''] = received.split('\r\n\r\n');
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(rest.slice(0, Number(/^content-length: (\d+)$/im.exec(head)![1]))) as Record<string, unknown>;
        } catch {
          parsed = { unparsable: rest.slice(0, 200) };
        }
        resolve({ status: Number(status[1]), body: parsed, retryAfter: /^retry-after: (\S+)$/im.exec(head)?.[1] ?? null, ms: performance.now() - started });
      });
    });
  }

  const passwordGrant = (username: string, password: string): Promise<Answer> =>
    login(JSON.stringify({ grant_type: 'password', username, password, ...client }), 'application/json');

  async function me(): Promise<number> {
    const started = performance.now();
    const response = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    await response.arrayBuffer();
    assert.equal(response.status, 200, '/v1/me answers 200 with a valid token');
    return performance.now() - started;
  }

  /** Calls /v1/me back to back until `done` settles (bounded by `limitMs`); returns each latency. */
  async function probeWhile(done: Promise<unknown>, limitMs: number): Promise<number[]> {
    let finished = false;
    void done.finally(() => (finished = true));
    const latencies: number[] = [];
    for (const deadline = performance.now() + limitMs; !finished && performance.now() < deadline; ) latencies.push(await me());
    return latencies;
  }

  /** Samples the child's RSS every 10 ms until `done` settles; returns the peak. */
  async function peakRssWhile(done: Promise<unknown>, limitMs: number): Promise<number> {
    let finished = false;
    void done.finally(() => (finished = true));
    let peak = rss(child);
    for (const deadline = performance.now() + limitMs; !finished && performance.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 10))) {
      peak = Math.max(peak, rss(child));
    }
    return Math.max(peak, rss(child));
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokend-login-flood-'));
    ({ child, url } = await startServer({
      env: {
        TOKEND_DATABASE_URL: `sqlite:${join(dir, 'tokend.db')}`,
        TOKEND_ADMIN_TOKEN: ADMIN,
        TOKEND_LOGIN_LIMIT_USER: '100000',
        TOKEND_LOGIN_LIMIT_IP: '100000',
        TOKEND_LOG_LEVEL: 'warn',
        TOKEND_SWEEP_INTERVAL: '0',
      },
    }));
    const admin = (path: string, body: Record<string, unknown>) =>
      fetch(`${url}/admin/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
    const made = await admin('/apps', { name: 'flood' });
    assert.equal(made.status, 201);
    const app = (await made.json()) as { client_id: string; client_secret: string };
    client = { client_id: app.client_id, client_secret: app.client_secret };
    assert.equal((await admin('/users', { username: USERNAME, password: PASSWORD })).status, 201);
    const granted = await passwordGrant(USERNAME, PASSWORD);
    assert.equal(granted.status, 200);
    accessToken = granted.body.access_token as string;
    for (let i = 0; i < 20; i += 1) await me(); // warm up: JIT, the verification cache
  });
  after(async () => {
    if (child !== undefined && child.exitCode === null) {
      const stopped = exited(child);
      child.kill('SIGTERM');
      await stopped;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('200 parallel logins with 1 MB passwords (for 3 s) are 413 at once; RSS stays flat and /v1/me stays fast', async () => {
    const password = 'p'.repeat(MiB);
    // Encoded once and shared, so the load generator's own memory stays small.
    const jsonBody = new TextEncoder().encode(JSON.stringify({ grant_type: 'password', username: USERNAME, password, ...client }));
    const formBody = new TextEncoder().encode(new URLSearchParams({ grant_type: 'password', username: USERNAME, password, ...client }).toString());
    const idle = await probeWhile(new Promise((resolve) => setTimeout(resolve, 500)), 1_000);
    const before = rss(child);
    const started = performance.now();
    // 200 logins in flight at all times for 3 s: one wave is over in a few hundred ms, too soon to measure anything during it.
    const flood = Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        // Every fifth one chunked, without Content-Length: the limit must count bytes as they arrive.
        const chunked = i % 5 === 4;
        const mine: Answer[] = [];
        while (performance.now() - started < 3_000) {
          mine.push(await (i % 2 === 0 ? rawLogin(jsonBody, 'application/json', chunked) : rawLogin(formBody, 'application/x-www-form-urlencoded', chunked)));
        }
        return mine;
      }),
    ).then((all) => all.flat());
    const [answers, latencies, peak] = await Promise.all([flood, probeWhile(flood, 20_000), peakRssWhile(flood, 20_000)]);
    const elapsed = performance.now() - started;
    const statuses = new Map<number, number>();
    for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    console.log(`1 MB flood: ${answers.length} logins in ${elapsed.toFixed(0)} ms, statuses ${JSON.stringify([...statuses])}`);
    console.log(`1 MB flood: answer time ${describeMs(answers.map((a) => a.ms))}`);
    console.log(`1 MB flood: RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB (+${((peak - before) / MiB).toFixed(1)} MiB)`);
    console.log(`1 MB flood: /v1/me idle ${describeMs(idle)}`);
    console.log(`1 MB flood: /v1/me during ${describeMs(latencies)}`);
    // The server reads and drops the rest of a refused upload (a lingering close, RFC 9112 §9.6), so
    // every client reads its 413: closing with the upload unread made the kernel's RST discard it.
    const resets = answers.filter((a) => a.status === 0).length;
    console.log(`1 MB flood: ${resets} of ${answers.length} connections reset before the 413 arrived`);
    assert.equal(resets, 0, `${resets} of ${answers.length} were reset without an answer`);
    for (const answer of answers.filter((a) => a.status !== 0)) {
      assert.equal(answer.status, 413, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_request');
      assert.equal(typeof answer.body.error_description, 'string');
    }
    assert.ok(elapsed < 8_000, `the last wave was answered ${(elapsed - 3_000).toFixed(0)} ms after the 3 s`);
    assert.ok(quantile(answers.map((a) => a.ms), 0.5) < 2_000, 'a 413 comes without reading the megabyte');
    assert.ok(peak - before < 100 * MiB, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
    assert.ok(latencies.length >= 5, `/v1/me was probed ${latencies.length} times during the flood`);
    // Not starved: every probe answered, none waited behind the flood. The latency figures are printed and
    // belong to docs/security.md; a tight bound here would only measure how busy this shared machine is.
    assert.ok(Math.max(...latencies) < 5_000, `the slowest /v1/me during the flood took ${Math.max(...latencies).toFixed(0)} ms`);
  });

  test('200 parallel maximum-length wrong passwords: 400 invalid_grant or 429, never 5xx; verification stays responsive', async () => {
    const idle = await probeWhile(new Promise((resolve) => setTimeout(resolve, 1_000)), 2_000);
    const before = rss(child);
    const started = performance.now();
    const flood = Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const password = `${String(i).padStart(4, '0')}${'w'.repeat(1020)}`;
        assert.equal(password.length, 1024);
        return i % 2 === 0
          ? passwordGrant(USERNAME, password)
          : login(new URLSearchParams({ grant_type: 'password', username: USERNAME, password, ...client }).toString(), 'application/x-www-form-urlencoded');
      }),
    );
    const [answers, latencies, peak] = await Promise.all([flood, probeWhile(flood, 30_000), peakRssWhile(flood, 30_000)]);
    const elapsed = performance.now() - started;
    const statuses = new Map<number, number>();
    for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const hashed = answers.filter((a) => a.status === 400);
    const limited = answers.filter((a) => a.status === 429);
    console.log(`1,024-char flood: ${answers.length} logins in ${elapsed.toFixed(0)} ms, statuses ${JSON.stringify([...statuses])}`);
    if (hashed.length > 0) console.log(`1,024-char flood: 400 answer time ${describeMs(hashed.map((a) => a.ms))}`);
    if (limited.length > 0) console.log(`1,024-char flood: 429 answer time ${describeMs(limited.map((a) => a.ms))}`);
    console.log(`1,024-char flood: RSS ${(before / MiB).toFixed(1)} MiB before, peak ${(peak / MiB).toFixed(1)} MiB (+${((peak - before) / MiB).toFixed(1)} MiB)`);
    console.log(`1,024-char flood: /v1/me idle ${describeMs(idle)}`);
    console.log(`1,024-char flood: /v1/me during ${describeMs(latencies)}`);

    for (const answer of answers) {
      assert.ok(answer.status === 400 || answer.status === 429, `status ${answer.status}: ${JSON.stringify(answer.body)}`);
      if (answer.status === 400) assert.equal(answer.body.error, 'invalid_grant');
      else {
        assert.ok(answer.retryAfter !== null && Number(answer.retryAfter) >= 1, `Retry-After: ${answer.retryAfter}`);
        assert.equal(typeof answer.body.error, 'string');
      }
    }
    assert.ok(hashed.length > 0, 'some guesses were hashed and refused');
    assert.ok(peak - before < 100 * MiB, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
    assert.ok(latencies.length >= 5, `/v1/me was probed ${latencies.length} times during the flood`);
    // Not starved: every probe answered, none waited behind the flood. The latency figures are printed and
    // belong to docs/security.md; a tight bound here would only measure how busy this shared machine is.
    assert.ok(Math.max(...latencies) < 5_000, `the slowest /v1/me during the flood took ${Math.max(...latencies).toFixed(0)} ms`);

    const correct = await passwordGrant(USERNAME, PASSWORD);
    assert.equal(correct.status, 200, JSON.stringify(correct.body));
    assert.equal(typeof correct.body.access_token, 'string');
  });

  test('an unknown user and a wrong password take the same time', async () => {
    const unknown: number[] = [];
    const wrong: number[] = [];
    const deadline = performance.now() + 35_000;
    for (let i = 0; i < 300 && performance.now() < deadline; i += 1) {
      const a = await passwordGrant(`nobody-${i}`, `guess-${i}-of-a-password`);
      assert.equal(a.status, 400);
      assert.equal(a.body.error, 'invalid_grant');
      unknown.push(a.ms);
      const b = await passwordGrant(USERNAME, `guess-${i}-of-a-password`);
      assert.equal(b.status, 400);
      assert.equal(b.body.error, 'invalid_grant');
      assert.deepEqual(b.body, a.body, 'the two answers are identical');
      wrong.push(b.ms);
    }
    console.log(`timing: unknown user   ${describeMs(unknown)}`);
    console.log(`timing: wrong password ${describeMs(wrong)}`);
    assert.ok(unknown.length >= 100, `${unknown.length} pairs in the time allowed`);
    const [mu, mw] = [quantile(unknown, 0.5), quantile(wrong, 0.5)];
    const gap = Math.abs(mu - mw) / Math.min(mu, mw);
    console.log(`timing: medians ${mu.toFixed(2)} vs ${mw.toFixed(2)} ms, ${(gap * 100).toFixed(1)} % apart`);
    // Measured 0-1.6 % apart; without the dummy hash an unknown user would answer ~50x faster. 50 % leaves room
    // for a loaded CI machine without letting that through.
    assert.ok(gap < 0.5, `medians ${mu.toFixed(2)} and ${mw.toFixed(2)} ms are ${(gap * 100).toFixed(1)} % apart`);
  });
});
