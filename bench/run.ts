/**
 * `npm run bench`: tokend's throughput and latency against a bare-server
 * ceiling measured in the same run. Servers run pinned to one core, the load
 * generator (autocannon, this process) to the other; every scenario is
 * bounded in time and targets 127.0.0.1 only. Prints a table and writes
 * bench/results/latest.json.
 *
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=32 BENCH_STORES=sqlite,postgres npm run bench
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../test/helpers/postgres.js';
import { exited, startServer, TOKEND_MAIN, type Running } from '../test/helpers/serve.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const REDIS_URL = process.env.TOKEND_TEST_REDIS ?? 'redis://127.0.0.1:6379';
const ADMIN = 'bench-operator-token-0123456789abcdefghijklmnop';
const ROOT = join(import.meta.dirname, '..');
/**
 * Servers on the last core, the load generator (this process, which `npm run
 * bench` pins to core 0) on the first. Counted from os.cpus(): under taskset,
 * availableParallelism() counts only the cores this process may use.
 */
const MACHINE_CPUS = cpus().length;
const SERVER_CPU = String(Math.max(0, MACHINE_CPUS - 1));

interface Figure {
  scenario: string;
  store: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  ratio?: number;
}

/** A server process of the benchmark, kept off the load generator's core. */
const start = (args: string[], env: Record<string, string>): Promise<Running> =>
  startServer({ args, env, ...(MACHINE_CPUS > 1 && { cpu: SERVER_CPU }) });

async function measure(scenario: string, store: string, options: autocannon.Options): Promise<Figure> {
  process.stderr.write(`  ${store.padEnd(9)} ${scenario} … `);
  // One uncounted second first, so the figure is the server's steady state, not its JIT warming up.
  await autocannon({ connections: CONNECTIONS, duration: 1, ...options });
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const figure = {
    scenario,
    store,
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
  process.stderr.write(`${figure.requestsPerSecond} req/s, p99 ${figure.p99} ms${figure.errors ? `, ${figure.errors} errors` : ''}\n`);
  return figure;
}

async function call(url: string, path: string, body: unknown, authorization?: string): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** One tokend node on a store, with what the scenarios need made through its own API. */
async function benchStore(store: string): Promise<Figure[]> {
  let database: TestDatabase | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'tokend-bench-'));
  const env: Record<string, string> = { TOKEND_ADMIN_TOKEN: ADMIN, TOKEND_LOG_LEVEL: 'warn', TOKEND_SWEEP_INTERVAL: '0', TOKEND_ISSUER: 'http://tokend.bench' };
  if (store === 'postgres') {
    database = await createTestDatabase();
    Object.assign(env, { TOKEND_DATABASE_URL: database.url, TOKEND_REDIS_URL: REDIS_URL });
  } else {
    env.TOKEND_DATABASE_URL = `sqlite:${join(dir, 'tokend.db')}`;
  }
  const { child, url } = await start([TOKEND_MAIN, 'serve', '--port', '0'], env);
  try {
    const admin = `Bearer ${ADMIN}`;
    const opaque = await call(url, '/admin/v1/apps', { name: 'opaque' }, admin);
    const jwt = await call(url, '/admin/v1/apps', { name: 'jwt', access_token_format: 'jwt' }, admin);
    await call(url, '/admin/v1/users', { username: 'bench', password: 'bench-password' }, admin);
    const login = (app: { client_id: string; client_secret: string }) =>
      call(url, '/oauth/token', { grant_type: 'password', username: 'bench', password: 'bench-password', client_id: app.client_id, client_secret: app.client_secret });
    const opaqueToken = (await login(opaque)).access_token as string;
    const jwtToken = (await login(jwt)).access_token as string;
    const masterKey = (await call(url, `/admin/v1/apps/${opaque.id}/master-keys`, {}, admin)).key as string;
    const basic = `Basic ${Buffer.from(`${opaque.client_id}:${opaque.client_secret}`).toString('base64')}`;
    const form = 'application/x-www-form-urlencoded';
    return [
      await measure('verify: GET /v1/me, opaque (repeat)', store, { url: `${url}/v1/me`, headers: { authorization: `Bearer ${opaqueToken}` } }),
      await measure('verify: GET /v1/me, JWT (repeat)', store, { url: `${url}/v1/me`, headers: { authorization: `Bearer ${jwtToken}` } }),
      await measure('introspect: POST /oauth/introspect', store, {
        url: `${url}/oauth/introspect`,
        method: 'POST',
        headers: { authorization: basic, 'content-type': form },
        body: `token=${opaqueToken}`,
      }),
      await measure('issue: client_credentials', store, {
        url: `${url}/oauth/token`,
        method: 'POST',
        headers: { authorization: basic, 'content-type': form },
        body: 'grant_type=client_credentials',
      }),
      await measure('issue: master-key get_token', store, {
        url: `${url}/api/auth/v1.0/get_token/`,
        method: 'POST',
        headers: { authorization: `Token ${masterKey}` },
      }),
    ];
  } finally {
    const stopped = exited(child);
    child.kill('SIGTERM');
    await stopped;
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.stderr.write(`tokend bench: ${SECONDS} s per scenario, ${CONNECTIONS} connections, servers pinned to CPU ${SERVER_CPU}, load generator on CPU ${availableParallelism() < MACHINE_CPUS ? '0' : 'any'}, ${cpus()[0]?.model ?? 'cpu'} × ${MACHINE_CPUS}\n`);
  const ceilingServer = await start([join(ROOT, 'bench/ceiling.ts')], {});
  let ceiling: Figure;
  try {
    ceiling = await measure('ceiling: bare Fastify GET, fixed JSON', '-', { url: `${ceilingServer.url}/ceiling` });
  } finally {
    ceilingServer.child.kill('SIGTERM');
  }
  const figures = [ceiling];
  for (const store of STORES) figures.push(...(await benchStore(store)));
  for (const figure of figures) figure.ratio = Number((figure.requestsPerSecond / ceiling.requestsPerSecond).toFixed(2));

  const rows = figures.map((f) => [f.scenario, f.store, String(f.requestsPerSecond), `${f.ratio!.toFixed(2)}×`, `${f.p50}`, `${f.p99}`, String(f.errors)]);
  const header = ['scenario', 'store', 'req/s', 'ceiling', 'p50 ms', 'p99 ms', 'errors'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  console.log([line(header), `|${widths.map((w, i) => (i >= 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...rows.map(line)].join('\n'));
  const result = { at: new Date().toISOString(), seconds: SECONDS, connections: CONNECTIONS, cpus: MACHINE_CPUS, serverCpu: SERVER_CPU, figures };
  writeFileSync(join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

await main();
