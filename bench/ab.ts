/**
 * `npm run bench:ab -- <commit>`: this checkout's built server (B) against the
 * same server built from another commit (A), both on the servers' core, in
 * alternating one-second slices; for each, the server's CPU time per request.
 * Paired this way, a change of a few percent stands out of this machine's
 * drift, which a comparison of two `npm run bench` tables cannot show. The
 * server started second has run up to 10 µs a request faster than the first
 * in some runs, so the pair runs twice, once in each start order, and both
 * halves are printed beside the whole. Loopback only; bounded by AB_ROUNDS.
 *
 *   npm run bench:ab -- HEAD~1                                  # introspection, SQLite, 32 connections
 *   AB_ONLY=me,rotation AB_STORE=postgres AB_ROUNDS=12 npm run bench:ab -- 891297f
 *
 * The other commit is built in a temporary git worktree (with this checkout's
 * node_modules), which is removed afterwards.
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchData, benchNode, benchSettingsEnv, cpuSeconds, loads, pinnedCpu, rotation, startPinned, stopServer, type BenchSettings } from './scenarios.js';
import { TOKEND_BUILT_MAIN, type Running } from '../test/helpers/serve.js';

const ROOT = join(import.meta.dirname, '..');
const SCENARIOS = ['me', 'me-jwt', 'introspect', 'client-credentials', 'get-token', 'rotation'] as const;
type Scenario = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench:ab -- <commit>

Compares this checkout's built server (B) with the one built from <commit> (A):
server CPU µs per request, in alternating 1 s slices, once in each start order.

  AB_ONLY         scenarios, comma-separated (default introspect): ${SCENARIOS.join(', ')}
  AB_STORE        sqlite or postgres (with Redis) (default sqlite)
  AB_ROUNDS       slices per server and start order (default 10)
  AB_CONNECTIONS  load generator connections (default 32)
`;

interface Side {
  name: 'A' | 'B';
  main: string;
}

interface Tally {
  cpu: number;
  requests: number;
  seconds: number;
}

const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** Builds `commit` in a temporary worktree; returns its server and a function that removes the worktree. */
function buildCommit(commit: string): { main: string; remove(): void } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  let sha: string;
  try {
    sha = git('rev-parse', '--verify', '--quiet', `${commit}^{commit}`);
  } catch {
    throw new Error(`no commit "${commit}" in this repository: give a commit, tag or branch (see git log --oneline)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tokend-ab-'));
  say(`A: ${commit} (${sha.slice(0, 7)}), building in ${dir} …`);
  git('worktree', 'add', '--detach', dir, sha);
  const remove = () => {
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  } catch (error) {
    remove();
    throw error;
  }
  return { main: join(dir, 'dist/cli/main.js'), remove };
}

/** One server on its own store, with what every scenario needs made through its API. */
async function prepare(settings: BenchSettings, side: Side, store: string, scenarios: Scenario[], connections: number, rounds: number) {
  const data = await benchData(store, benchSettingsEnv());
  let server: Running;
  try {
    server = await startPinned(settings, [side.main, 'serve', '--port', '0'], data.env);
  } catch (error) {
    await data.close();
    throw error;
  }
  const { url } = server;
  const node = await benchNode(url);
  const load = loads(url, node);
  const build: Record<Scenario, () => autocannon.Options | Promise<autocannon.Options>> = {
    me: () => load.me(node.opaqueToken),
    'me-jwt': () => load.me(node.jwtToken),
    introspect: load.introspect,
    'client-credentials': load.clientCredentials,
    'get-token': load.getToken,
    // A live refresh token per connection for the warm-up and every slice (each slice's end abandons up to one a connection).
    rotation: async () => rotation(url, node.opaque, await load.refreshTokens(node.opaque, connections * (rounds + 2))),
  };
  const options = new Map<Scenario, autocannon.Options>();
  for (const scenario of scenarios) options.set(scenario, await build[scenario]());
  return {
    side,
    server,
    options,
    async close() {
      await stopServer(server);
      await data.close();
    },
  };
}

async function main(): Promise<void> {
  const commit = process.argv[2];
  if (commit === undefined || commit === '--help' || commit === '-h') {
    process.stdout.write(USAGE);
    process.exitCode = commit === undefined ? 2 : 0;
    return;
  }
  const scenarios = (process.env.AB_ONLY ?? 'introspect').split(',') as Scenario[];
  const unknown = scenarios.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}: AB_ONLY takes ${SCENARIOS.join(', ')}`);
  const store = process.env.AB_STORE ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`AB_STORE is sqlite or postgres, not ${store}`);
  const rounds = Number(process.env.AB_ROUNDS ?? 10);
  const connections = Number(process.env.AB_CONNECTIONS ?? 32);
  if (!existsSync(TOKEND_BUILT_MAIN)) throw new Error('this checkout is not built: run npm run build first');
  const machineCpus = cpus().length;
  const settings = { serverCpu: machineCpus > 1 ? String(machineCpus - 1) : null } as BenchSettings;

  const other = buildCommit(commit);
  const sides: Side[] = [
    { name: 'A', main: other.main },
    { name: 'B', main: TOKEND_BUILT_MAIN },
  ];
  say(`B: this checkout. ${scenarios.join(', ')} on ${store}, ${connections} connections, ${rounds} slices of 1 s per server and start order; servers on CPU ${settings.serverCpu ?? 'any'}, load generator on CPU ${pinnedCpu() ?? 'any'}`);
  // tallies[scenario][order][side]
  const tallies = new Map<Scenario, Tally[][]>(scenarios.map((s) => [s, [0, 1].map(() => sides.map(() => ({ cpu: 0, requests: 0, seconds: 0 })))]));
  try {
    for (const order of [0, 1]) {
      const started = order === 0 ? sides : [...sides].reverse();
      say(`start order ${started.map((s) => s.name).join(' then ')} …`);
      const servers: Awaited<ReturnType<typeof prepare>>[] = [];
      try {
        for (const side of started) servers.push(await prepare(settings, side, store, scenarios, connections, rounds));
        for (const scenario of scenarios) {
          for (const server of servers) await autocannon({ connections, duration: 1, ...server.options.get(scenario)! });
          for (let round = 0; round < rounds; round += 1) {
            // Alternate which side goes first within a round too.
            for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
              const pid = server.server.child.pid!;
              const before = cpuSeconds(pid);
              const result = await autocannon({ connections, duration: 1, ...server.options.get(scenario)! });
              const tally = tallies.get(scenario)![order]![sides.indexOf(server.side)]!;
              tally.cpu += cpuSeconds(pid) - before;
              tally.requests += result.requests.total;
              tally.seconds += result.duration || 1;
              if (result.non2xx + result.errors > 0) say(`  ${server.side.name} ${scenario}: ${result.non2xx} non-2xx, ${result.errors} errors in a slice`);
            }
          }
          const [a, b] = tallies.get(scenario)![order]!;
          say(`  ${scenario.padEnd(18)} A ${perRequest(a!).toFixed(1)}  B ${perRequest(b!).toFixed(1)} CPU µs a request`);
        }
      } finally {
        for (const server of servers) await server.close();
      }
    }
  } finally {
    other.remove();
  }

  console.log(`\nserver CPU µs a request (req/s), A = ${commit}, B = this checkout; ${store}, ${connections} connections\n`);
  console.log('| scenario | A | B | B against A | A first: A / B | B first: A / B |');
  console.log('|---|--:|--:|--:|--:|--:|');
  for (const scenario of scenarios) {
    const [first, second] = tallies.get(scenario)!;
    const whole = sides.map((_, i) => sum(first![i]!, second![i]!));
    const change = (100 * (perRequest(whole[1]!) - perRequest(whole[0]!))) / perRequest(whole[0]!);
    const cell = (t: Tally) => `${perRequest(t).toFixed(1)} (${Math.round(t.requests / t.seconds)})`;
    const half = (pair: Tally[]) => `${perRequest(pair[0]!).toFixed(1)} / ${perRequest(pair[1]!).toFixed(1)}`;
    console.log(`| ${scenario} | ${cell(whole[0]!)} | ${cell(whole[1]!)} | ${change >= 0 ? '+' : ''}${change.toFixed(1)} % | ${half(first!)} | ${half(second!)} |`);
  }
}

const perRequest = (t: Tally): number => (1e6 * t.cpu) / Math.max(1, t.requests);
const sum = (x: Tally, y: Tally): Tally => ({ cpu: x.cpu + y.cpu, requests: x.requests + y.requests, seconds: x.seconds + y.seconds });

main().catch((error: unknown) => {
  say(`bench:ab: ${(error as Error).message}`);
  process.exitCode = 1;
});
