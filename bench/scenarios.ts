/**
 * The benchmark's scenarios on one tokend node: verification, introspection
 * and issuance, each made ready through tokend's own API. Every figure is a
 * steady state: one uncounted second first, then the measured run.
 */
import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../test/helpers/postgres.js';
import { exited, startServer, TOKEND_BUILT_MAIN, type Running } from '../test/helpers/serve.js';

export interface Figure {
  scenario: string;
  store: string;
  connections: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** Against the ceiling at the same connection count (or, for the password grant, the raw argon2id rate). */
  ratio?: number;
  /**
   * For the password grant: the raw argon2id rate on the server's core and its CPU time per hash, the
   * mean of runs just before and just after the grant (`around`), which `ratio` and `cpuRatio` are against.
   */
  argon2?: Argon2Rate & { around: [number, number] };
  /** The ceiling's req/s in the slices alternated with this scenario's, when it was paired, and its worst slice's p99. */
  ceiling?: number;
  ceilingP99?: number;
  /** Server CPU time per request, in µs (this scenario's, and the paired ceiling's). */
  cpuUs?: number;
  ceilingCpuUs?: number;
  /** The ceiling's CPU per request over this scenario's: a ratio that time stolen by other machines cannot move. */
  cpuRatio?: number;
  /**
   * How often the load generator's core went to sleep, per request (this scenario's, and the paired
   * ceiling's), where the kernel tells (cpuidle): each sleep costs the server a wake-up (docs/benchmarks.md).
   */
  loadSleeps?: number;
  ceilingLoadSleeps?: number;
}

export interface Argon2Rate {
  rate: number;
  atOnce: number;
  cpuUs: number;
}

export interface BenchSettings {
  seconds: number;
  /** Connection counts for the verification scenarios; issuance runs at the first. */
  connections: number[];
  /** The core servers are pinned to, or null on a one-core machine. */
  serverCpu: string | null;
  /** The ceiling server; scenarios alternate with it slice by slice (see measure). */
  ceilingUrl: string | null;
  ceilingPid: number | null;
  /** Only scenarios whose name matches run (BENCH_ONLY); null runs them all. */
  only: RegExp | null;
  /** The core the load generator (this process) is pinned to, or null when it is not pinned. */
  loadCpu: string | null;
}

const ADMIN = 'bench-operator-token-0123456789abcdefghijklmnop';
/**
 * Logins before the password grant is measured: enough for V8 to have compiled the login path (see
 * benchStore), or as many as a minute allows on a machine too slow for that many.
 */
const PASSWORD_WARM_UP = { logins: 3_000, seconds: 60 };
const FORM = 'application/x-www-form-urlencoded';

/** A server process of the benchmark, kept off the load generator's core. */
export const startPinned = (settings: BenchSettings, args: string[], env: Record<string, string>): Promise<Running> =>
  startServer({ args, env, ...(settings.serverCpu !== null && { cpu: settings.serverCpu }) });

/** autocannon's figures for one run: requests, seconds, latency, failures. */
interface Slice {
  /** CPU seconds the server used during the slice (user + system, all its threads). */
  cpu: number;
  /** Times the load generator's core went to sleep during the slice, or null where the kernel does not say. */
  sleeps: number | null;
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
}

/** A process's CPU seconds so far (user + system, every thread), from /proc: 0 where there is none. */
export function cpuSeconds(pid: number | null): number {
  if (pid === null) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, the unit of /proc/PID/stat's times. */
const CLOCK_TICKS = 100;

/** The one core this process is pinned to (`taskset -c N`), or null when it may run on more. */
export function pinnedCpu(): string | null {
  try {
    const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return list !== undefined && /^\d+$/.test(list) ? list : null;
  } catch {
    return null;
  }
}

/**
 * How many times a core has entered a sleeping idle state so far (every cpuidle state but polling), or
 * null where there is no such core or no cpuidle. A sleeping core must be woken by an interrupt from the
 * core that wakes its task, which on a virtual machine can cost that core tens of microseconds.
 */
export function coreSleeps(cpu: string | null): number | null {
  if (cpu === null) return null;
  const dir = `/sys/devices/system/cpu/cpu${cpu}/cpuidle`;
  try {
    let sleeps = 0;
    for (const state of readdirSync(dir)) {
      if (readFileSync(join(dir, state, 'name'), 'utf8').trim() === 'POLL') continue;
      sleeps += Number(readFileSync(join(dir, state, 'usage'), 'utf8'));
    }
    return sleeps;
  } catch {
    return null;
  }
}

async function slice(connections: number, options: autocannon.Options, pid: number | null, loadCpu: string | null): Promise<Slice> {
  const before = cpuSeconds(pid);
  const sleepsBefore = coreSleeps(loadCpu);
  // A run of a set `amount` ends at autocannon's next sample tick (every second by default), so its
  // duration was rounded up to whole seconds: 4,000 requests done in 1.2 s read as 2,000 a second.
  const result = await autocannon({ connections, ...options, ...(options.amount !== undefined && { sampleInt: 10 }) });
  const sleepsAfter = coreSleeps(loadCpu);
  return {
    cpu: cpuSeconds(pid) - before,
    sleeps: sleepsBefore === null || sleepsAfter === null ? null : sleepsAfter - sleepsBefore,
    requests: result.requests.total,
    seconds: result.duration || 1,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * One scenario's figure. With `pairedCeiling`, the run is cut into one-second
 * slices alternating with slices of the ceiling, and the ratio is taken over
 * the sums: this shared machine's speed drifts by tens of percent within
 * minutes, and alternating cancels what drifts slower than a slice. p50 is
 * the median of the slices' p50s, p99 the worst slice's p99. With the server's
 * pid, the server's CPU time per request is taken too: CPU time that another
 * machine steals is not counted, so the ratio of CPU per request is the
 * steadiest figure this machine gives. `pairedCeiling` is the ceiling's URL
 * (a GET of its one route), or any other server's run to pair with, sliced
 * as this one is (`npm run bench:scale` pairs a large store with a small).
 */
export async function measure(
  settings: BenchSettings,
  scenario: string,
  store: string,
  connections: number,
  options: autocannon.Options,
  warmUp: autocannon.Options | null = options,
  pairedCeiling: string | autocannon.Options | null = null,
  serverPid: number | null = null,
): Promise<Figure> {
  process.stderr.write(`  ${store.padEnd(9)} ${scenario}, ${connections} connections … `);
  if (warmUp !== null) await autocannon({ connections, duration: 1, ...warmUp });
  const slices = pairedCeiling === null ? 1 : settings.seconds;
  // A slice of a run of a set `amount` is its share of the amount; of a timed run, one second (the whole run, unpaired).
  const sliceOf = (run: autocannon.Options): autocannon.Options =>
    run.amount !== undefined ? { ...run, amount: Math.floor(run.amount / slices) } : { ...run, duration: settings.seconds / slices };
  const mine: Slice[] = [];
  const ceiling: Slice[] = [];
  for (let i = 0; i < slices; i += 1) {
    if (pairedCeiling !== null) {
      const other = typeof pairedCeiling === 'string' ? { url: pairedCeiling, duration: 1 } : sliceOf(pairedCeiling);
      ceiling.push(await slice(connections, other, settings.ceilingPid, settings.loadCpu));
    }
    mine.push(await slice(connections, sliceOf(options), serverPid, settings.loadCpu));
  }
  const rate = (runs: Slice[]) => runs.reduce((sum, run) => sum + run.requests, 0) / runs.reduce((sum, run) => sum + run.seconds, 0);
  const figure: Figure = {
    scenario,
    store,
    connections,
    requestsPerSecond: Math.round(rate(mine)),
    p50: median(mine.map((run) => run.p50)),
    p99: Math.max(...mine.map((run) => run.p99)),
    errors: mine.reduce((sum, run) => sum + run.errors, 0),
  };
  if (pairedCeiling !== null) {
    figure.ceiling = Math.round(rate(ceiling));
    figure.ceilingP99 = Math.max(...ceiling.map((run) => run.p99));
    figure.ratio = Number((rate(mine) / rate(ceiling)).toFixed(2));
  }
  const perRequest = (runs: Slice[]) => (1e6 * runs.reduce((sum, run) => sum + run.cpu, 0)) / Math.max(1, runs.reduce((sum, run) => sum + run.requests, 0));
  if (serverPid !== null) figure.cpuUs = Math.round(perRequest(mine));
  const sleepsPerRequest = (runs: Slice[]) =>
    runs.length === 0 || runs.some((run) => run.sleeps === null) ? undefined : Number((runs.reduce((sum, run) => sum + run.sleeps!, 0) / Math.max(1, runs.reduce((sum, run) => sum + run.requests, 0))).toFixed(2));
  const loadSleeps = sleepsPerRequest(mine);
  const ceilingLoadSleeps = sleepsPerRequest(ceiling);
  if (loadSleeps !== undefined) figure.loadSleeps = loadSleeps;
  if (ceilingLoadSleeps !== undefined) figure.ceilingLoadSleeps = ceilingLoadSleeps;
  if (serverPid !== null && settings.ceilingPid !== null && ceiling.length > 0) {
    figure.ceilingCpuUs = Math.round(perRequest(ceiling));
    figure.cpuRatio = Number((perRequest(ceiling) / perRequest(mine)).toFixed(2));
  }
  process.stderr.write(`${figure.requestsPerSecond} req/s, p99 ${figure.p99} ms${figure.ratio !== undefined ? `, ${figure.ratio}× ${typeof pairedCeiling === 'string' ? 'the ceiling' : 'the run'} beside it` : ''}${figure.errors ? `, ${figure.errors} errors` : ''}
`);
  return figure;
}

/**
 * Raw argon2id verifications per second on the servers' core, with tokend's
 * parameters and default concurrency (bench/argon2-rate.ts), for as long as a
 * scenario runs, and the CPU time each took.
 */
async function argon2Rate(settings: BenchSettings): Promise<Argon2Rate> {
  process.stderr.write('  argon2id raw rate on the server core … ');
  const script = [process.execPath, '--import', 'tsx', join(import.meta.dirname, 'argon2-rate.ts'), String(settings.seconds)];
  const [command, args] = settings.serverCpu === null ? [script[0]!, script.slice(1)] : ['taskset', ['-c', settings.serverCpu, ...script]];
  const { stdout } = await promisify(execFile)(command, args, { cwd: join(import.meta.dirname, '..') });
  const [, rate, atOnce, cpuUs] = /argon2id ([\d.]+) hashes\/s, (\d+) at once, (\d+) CPU/.exec(stdout) ?? [];
  process.stderr.write(`${rate} hashes/s, ${atOnce} at once, ${cpuUs} CPU µs a hash\n`);
  return { rate: Number(rate), atOnce: Number(atOnce), cpuUs: Number(cpuUs) };
}

/** POSTs JSON to a tokend the benchmark set up, and wants a 2xx: setup that fails stops the run. */
export async function postJson(url: string, path: string, body: unknown, authorization?: string): Promise<any> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

interface Client {
  id: string;
  client_id: string;
  client_secret: string;
}

export const basicOf = (app: Pick<Client, 'client_id' | 'client_secret'>) => `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;

/**
 * Refresh rotation at full speed: every request spends one refresh token from
 * a shared pool and puts its successor back, so each connection always holds a
 * live one. `issued` collects the new access tokens (fresh JWTs for first sight).
 */
export function rotation(url: string, app: Client, pool: string[], issued?: string[]): autocannon.Options {
  return {
    url: `${url}/oauth/token`,
    requests: [
      {
        method: 'POST',
        headers: { authorization: basicOf(app), 'content-type': FORM },
        setupRequest: (request) => ({ ...request, body: `grant_type=refresh_token&refresh_token=${pool.pop() ?? 'tkr_spent'}` }),
        onResponse: (status, body) => {
          if (status !== 200) return;
          const answer = JSON.parse(body) as { access_token: string; refresh_token: string };
          pool.push(answer.refresh_token);
          issued?.push(answer.access_token);
        },
      },
    ],
  };
}

/** `GET /v1/me`, each request with a token never presented before. */
const firstSight = (url: string, tokens: string[]): autocannon.Options => ({
  url: `${url}/v1/me`,
  requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${tokens.pop() ?? 'none'}` } }) }],
});

/**
 * Where a benchmark's tokend keeps its data: a fresh SQLite file in a temp
 * folder, or a fresh Postgres database with Redis. `env` is what the server
 * needs (with `extra` on top); `close` drops and deletes it all.
 */
export async function benchData(
  store: string,
  extra: Record<string, string>,
): Promise<{ env: Record<string, string>; sqlitePath: string; postgresUrl: string | null; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokend-bench-'));
  const sqlitePath = join(dir, 'tokend.db');
  const database: TestDatabase | null = store === 'postgres' ? await createTestDatabase() : null;
  const where: Record<string, string> =
    database === null
      ? { TOKEND_DATABASE_URL: `sqlite:${sqlitePath}` }
      : { TOKEND_DATABASE_URL: database.url, TOKEND_REDIS_URL: process.env.TOKEND_TEST_REDIS ?? 'redis://127.0.0.1:6379' };
  return {
    env: { TOKEND_LOG_LEVEL: 'warn', ...extra, ...where },
    sqlitePath,
    postgresUrl: database?.url ?? null,
    async close() {
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops a benchmark's server and waits until it has exited. */
export async function stopServer(server: Running): Promise<void> {
  const stopped = exited(server.child);
  server.child.kill('SIGTERM');
  await stopped;
}

/** A benchmark node's settings beside its store: the benchmark's operator token, no sweeper, limits only the hashing queue hits. */
export const benchSettingsEnv = (): Record<string, string> => ({
  TOKEND_ADMIN_TOKEN: ADMIN,
  TOKEND_SWEEP_INTERVAL: '0',
  TOKEND_ISSUER: 'http://tokend.bench',
  // The password scenario is one user logging in at full speed: only the hashing queue may act.
  TOKEND_LOGIN_LIMIT_USER: '1000000',
  TOKEND_LOGIN_LIMIT_IP: '1000000',
});

/**
 * What every benchmark node starts with, made through its own API: an app with
 * opaque access tokens and one with JWTs, the user `bench` logged in to each,
 * and a master key of the opaque app.
 */
export async function benchNode(url: string) {
  const admin = `Bearer ${ADMIN}`;
  const opaque: Client = await postJson(url, '/admin/v1/apps', { name: 'opaque' }, admin);
  const jwt: Client = await postJson(url, '/admin/v1/apps', { name: 'jwt', access_token_format: 'jwt' }, admin);
  await postJson(url, '/admin/v1/users', { username: 'bench', password: 'bench-password' }, admin);
  const passwordBody = (app: Client) => ({ grant_type: 'password', username: 'bench', password: 'bench-password', client_id: app.client_id, client_secret: app.client_secret });
  const login = (app: Client) => postJson(url, '/oauth/token', passwordBody(app));
  const opaqueToken = (await login(opaque)).access_token as string;
  const jwtToken = (await login(jwt)).access_token as string;
  const masterKey = (await postJson(url, `/admin/v1/apps/${opaque.id}/master-keys`, {}, admin)).key as string;
  return { opaque, jwt, passwordBody, login, opaqueToken, jwtToken, masterKey };
}

/** The requests bench and bench:ab both load a node with, as autocannon options: one definition for both. */
export function loads(url: string, node: Awaited<ReturnType<typeof benchNode>>) {
  const client = { authorization: basicOf(node.opaque), 'content-type': FORM };
  return {
    me: (token: string): autocannon.Options => ({ url: `${url}/v1/me`, headers: { authorization: `Bearer ${token}` } }),
    introspect: (): autocannon.Options => ({ url: `${url}/oauth/introspect`, method: 'POST', headers: client, body: `token=${node.opaqueToken}` }),
    clientCredentials: (): autocannon.Options => ({ url: `${url}/oauth/token`, method: 'POST', headers: client, body: 'grant_type=client_credentials' }),
    getToken: (): autocannon.Options => ({ url: `${url}/api/auth/v1.0/get_token/`, method: 'POST', headers: { authorization: `Token ${node.masterKey}` } }),
    /** At least `count` live refresh tokens of `app`, 16 logins at a time: inside the server's hashing queue (TOKEND_HASH_QUEUE, 64). */
    async refreshTokens(app: Client, count: number): Promise<string[]> {
      const tokens: string[] = [];
      while (tokens.length < count) tokens.push(...(await Promise.all(Array.from({ length: 16 }, async () => (await node.login(app)).refresh_token as string))));
      return tokens;
    },
  };
}

/** One tokend node on a store, with what the scenarios need made through its own API. */
export async function benchStore(settings: BenchSettings, store: string): Promise<Figure[]> {
  const data = await benchData(store, benchSettingsEnv());
  const server = await startPinned(settings, [TOKEND_BUILT_MAIN, 'serve', '--port', '0'], data.env);
  const { child, url } = server;
  const wanted = (scenario: string) => settings.only === null || settings.only.test(scenario);
  const figures: Figure[] = [];
  /**
   * Measures a scenario BENCH_ONLY wants; `options` is built only then, as some cost logins to prepare.
   * `paired` false runs it in one piece instead of in slices alternating with the ceiling's.
   */
  const run = async (scenario: string, connections: number, options: () => autocannon.Options | Promise<autocannon.Options>, warmUp?: autocannon.Options | null, paired = true) => {
    if (!wanted(scenario)) return null;
    const prepared = await options();
    const figure = await measure(settings, scenario, store, connections, prepared, warmUp === undefined ? prepared : warmUp, paired ? settings.ceilingUrl : null, child.pid ?? null);
    figures.push(figure);
    return figure;
  };
  try {
    const node = await benchNode(url);
    const { opaque, jwt, passwordBody, opaqueToken, jwtToken } = node;
    const load = loads(url, node);
    const first = settings.connections[0]!;
    const me = (token: string) => () => load.me(token);

    for (const connections of settings.connections) {
      await run('verify: GET /v1/me, opaque (repeat)', connections, me(opaqueToken));
      await run('verify: GET /v1/me, JWT (repeat)', connections, me(jwtToken));
      await run('introspect: POST /oauth/introspect', connections, load.introspect);
    }

    await run('issue: client_credentials', first, load.clientCredentials);
    await run('issue: master-key get_token', first, load.getToken);

    // Sessions for rotation, then rotation; the JWT app's run also yields fresh JWTs for first sight. Each
    // run's end abandons up to one spent token per connection (its answer never read): the warm-up and
    // every measured slice need a session per connection.
    const sessions = (app: Client): Promise<string[]> => load.refreshTokens(app, (settings.seconds + 2) * first);
    await run('issue: refresh rotation (opaque access)', first, async () => rotation(url, opaque, await sessions(opaque)));
    const fresh: string[] = [];
    const firstSightRun = 'verify: GET /v1/me, JWT (first sight)';
    await run('issue: refresh rotation (JWT access)', first, async () => rotation(url, jwt, await sessions(jwt), fresh));
    if (fresh.length > 0 && wanted(firstSightRun)) {
      const warm = Math.min(1_000, Math.floor(fresh.length / 4));
      await autocannon({ connections: first, amount: warm, ...firstSight(url, fresh) });
      const count = fresh.length;
      const figure = await run(firstSightRun, first, () => ({ amount: count, ...firstSight(url, fresh) }), null);
      if (figure !== null) figure.scenario = `verify: GET /v1/me, JWT (first sight, ${count} tokens)`;
    }

    const passwordGrant: autocannon.Options = {
      url: `${url}/oauth/token`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(passwordBody(opaque)),
    };
    // Judged against the raw argon2id rate, which is measured in one piece: so is the grant. Cut into
    // slices, each would start with an idle hashing thread and end with a batch hashed for nobody. The
    // raw rate is measured just before and just after, and the grant judged against their mean: the
    // machine's speed drifts between runs, and argon2id, bound by memory, drifts the most.
    // The warm-up is counted in logins, not seconds: at 150 logins a second, V8 is still compiling the
    // login path after a thousand (its helper threads spent 220 µs a login on it, the event loop ran its
    // code unoptimized: 740 µs a login against 420 once settled, SQLite, AMD EPYC), and a server that has
    // run for an hour is past that. It comes before the first raw run, so that run stays just before the
    // grant; the grant's own second of warm-up then fills the hashing queue again.
    const grant = 'issue: password grant';
    const warmUpGrant = async () => {
      const started = performance.now();
      process.stderr.write(`  ${store.padEnd(9)} password grant: warming up with ${PASSWORD_WARM_UP.logins} logins … `);
      let cap: NodeJS.Timeout | undefined;
      const done = await new Promise<autocannon.Result>((resolve, reject) => {
        const warming = autocannon({ connections: first, amount: PASSWORD_WARM_UP.logins, ...passwordGrant }, (error, result) => (error ? reject(error) : resolve(result)));
        cap = setTimeout(() => warming.stop(), PASSWORD_WARM_UP.seconds * 1000);
      });
      clearTimeout(cap);
      process.stderr.write(`${done.requests.total} in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    };
    let before: Argon2Rate | null = null;
    if (wanted(grant)) {
      await warmUpGrant();
      before = await argon2Rate(settings);
    }
    const password = await run(grant, first, () => passwordGrant, undefined, false);
    if (password !== null && before !== null) {
      const after = await argon2Rate(settings);
      const mean = (a: number, b: number) => Number(((a + b) / 2).toFixed(1));
      password.argon2 = { rate: mean(before.rate, after.rate), atOnce: before.atOnce, cpuUs: Math.round(mean(before.cpuUs, after.cpuUs)), around: [before.rate, after.rate] };
      password.ratio = Number((password.requestsPerSecond / password.argon2.rate).toFixed(2));
      password.ceilingCpuUs = password.argon2.cpuUs;
      if (password.cpuUs !== undefined) password.cpuRatio = Number((password.argon2.cpuUs / password.cpuUs).toFixed(2));
    }
    // Verification while logins flood the hasher: both loads at once, only /v1/me counted.
    const flood = 'verify: GET /v1/me, opaque, during a login flood';
    if (wanted(flood)) {
      await Promise.all([
        // Long enough for the measured run: a warm-up second, then its slices alternating with the ceiling's.
        autocannon({ connections: first, duration: 2 * settings.seconds + 2, ...passwordGrant }),
        run(flood, first, me(opaqueToken)),
      ]);
    }
    return figures;
  } finally {
    await stopServer(server);
    await data.close();
  }
}
