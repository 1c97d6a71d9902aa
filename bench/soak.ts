/**
 * `npm run soak`: mixed load on one tokend node for SOAK_SECONDS (default 600),
 * reporting errors, p99 and the server's resident memory over time, and
 * whether memory grew after warm-up. Not part of `npm test`. Loopback only;
 * stops by itself.
 *
 *   SOAK_SECONDS=600 SOAK_STORE=sqlite npm run soak     (or SOAK_STORE=postgres, with Redis)
 */
import autocannon from 'autocannon';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startServer, TOKEND_BUILT_MAIN } from '../test/helpers/serve.js';
import { basicOf, benchData, postJson, stopServer } from './scenarios.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const STORE = process.env.SOAK_STORE ?? 'sqlite';
const ADMIN = 'soak-operator-token-0123456789abcdefghijklmnop';
const ROOT = join(import.meta.dirname, '..');

const rssMiB = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(line?.replace(/\D+/g, '') ?? 0) / 1024);
};

async function main(): Promise<void> {
  const data = await benchData(STORE, { TOKEND_ADMIN_TOKEN: ADMIN, TOKEND_ISSUER: 'http://tokend.soak' });
  const server = await startServer({ env: data.env, args: [TOKEND_BUILT_MAIN, 'serve', '--port', '0'], ...(cpus().length > 1 && { cpu: String(cpus().length - 1) }) });
  const pid = server.child.pid!;
  try {
    const { url } = server;
    const admin = `Bearer ${ADMIN}`;
    const app = await postJson(url, '/admin/v1/apps', { name: 'soak', refresh_reuse_grace_seconds: 0 }, admin);
    await postJson(url, '/admin/v1/users', { username: 'soak', password: 'soak-password' }, admin);
    const login = await postJson(url, '/oauth/token', { grant_type: 'password', username: 'soak', password: 'soak-password', client_id: app.client_id, client_secret: app.client_secret });
    const basic = basicOf(app);
    const form = 'application/x-www-form-urlencoded';

    const samples: Array<{ second: number; rssMiB: number }> = [];
    const started = Date.now();
    const sampler = setInterval(() => {
      const second = Math.round((Date.now() - started) / 1000);
      samples.push({ second, rssMiB: rssMiB(pid) });
      process.stderr.write(`  ${String(second).padStart(4)} s  RSS ${samples.at(-1)!.rssMiB} MiB\n`);
    }, Math.max(1_000, (SECONDS * 1000) / 60));

    // Three streams at once: verification, issuance (tokens pile up, as in production), introspection.
    const streams = await Promise.all([
      autocannon({ url: `${url}/v1/me`, connections: 16, duration: SECONDS, headers: { authorization: `Bearer ${login.access_token}` } }),
      autocannon({ url: `${url}/oauth/token`, method: 'POST', connections: 4, duration: SECONDS, headers: { authorization: basic, 'content-type': form }, body: 'grant_type=client_credentials' }),
      autocannon({ url: `${url}/oauth/introspect`, method: 'POST', connections: 4, duration: SECONDS, headers: { authorization: basic, 'content-type': form }, body: `token=${login.access_token}` }),
    ]);
    clearInterval(sampler);

    const afterWarmup = samples.filter((s) => s.second >= SECONDS * 0.2);
    const first = afterWarmup[0]?.rssMiB ?? 0;
    const peak = Math.max(...samples.map((s) => s.rssMiB));
    const last = samples.at(-1)?.rssMiB ?? 0;
    const names = ['verify /v1/me', 'issue client_credentials', 'introspect'];
    const report = {
      at: new Date().toISOString(),
      seconds: SECONDS,
      store: STORE,
      streams: streams.map((r, i) => ({ name: names[i] ?? 'stream', requests: r.requests.total, perSecond: Math.round(r.requests.average), p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx })),
      rss: { afterWarmupMiB: first, peakMiB: peak, lastMiB: last, growthAfterWarmupMiB: last - first, samples },
    };
    for (const s of report.streams) console.log(`${s.name.padEnd(26)} ${String(s.requests).padStart(9)} requests  ${String(s.perSecond).padStart(6)}/s  p99 ${s.p99} ms  errors ${s.errors}`);
    console.log(`RSS: ${first} MiB after warm-up, peak ${peak} MiB, last ${last} MiB (${last - first >= 0 ? '+' : ''}${last - first} MiB after warm-up)`);
    writeFileSync(join(ROOT, 'bench/results/soak.json'), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await stopServer(server);
    await data.close();
  }
}

await main();
