/**
 * `npm run bench`: tokend's throughput and latency against a bare-server
 * ceiling measured in the same run. Servers run pinned to one core, the load
 * generator (autocannon, this process) to the other; every scenario is
 * bounded in time and targets 127.0.0.1 only. Prints a table, with each
 * issue-7 target met or not, and writes bench/results/latest.json.
 *
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=32,256 BENCH_STORES=sqlite,postgres npm run bench
 *   BENCH_ONLY='repeat|introspect' npm run bench     # only the scenarios whose name matches
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchStore, measure, pinnedCpu, startPinned, type BenchSettings, type Figure } from './scenarios.js';

const ROOT = join(import.meta.dirname, '..');
/**
 * Servers on the last core, the load generator (this process, which `npm run
 * bench` pins to core 0) on the first. Counted from os.cpus(): under taskset,
 * availableParallelism() counts only the cores this process may use.
 */
const MACHINE_CPUS = cpus().length;
const settings: BenchSettings = {
  seconds: Number(process.env.BENCH_SECONDS ?? 5),
  connections: (process.env.BENCH_CONNECTIONS ?? '32,256').split(',').map(Number),
  serverCpu: MACHINE_CPUS > 1 ? String(MACHINE_CPUS - 1) : null,
  ceilingUrl: null,
  ceilingPid: null,
  loadCpu: pinnedCpu(),
  only: process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null,
};
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');

/** The verification p99 target holds at this many connections. */
const P99_CONNECTIONS = 32;

/** Issue 7's targets: the least ratio each scenario must reach (and, at 32 connections, the verification p99). */
const TARGETS: Array<{ match: RegExp; ratio: number; p99?: number; stores?: string[] }> = [
  { match: /^verify: .*\((repeat)\)$/, ratio: 0.7, p99: 5 },
  { match: /^introspect/, ratio: 0.6 },
  { match: /^issue: (client_credentials|master-key)/, ratio: 0.35, stores: ['sqlite'] },
  { match: /^issue: refresh rotation/, ratio: 0.25 },
  { match: /^issue: password grant/, ratio: 0.9 },
  { match: /during a login flood/, ratio: 0.5 },
];

function verdict(figure: Figure): string {
  const target = TARGETS.find((t) => t.match.test(figure.scenario) && (t.stores === undefined || t.stores.includes(figure.store)));
  if (target === undefined || figure.ratio === undefined) return '';
  const p99 = target.p99 !== undefined && figure.connections === P99_CONNECTIONS ? ` p99≤${target.p99}` : '';
  // The CPU ratio where it means something (it counts the hashing threads, so not under a login flood).
  const value = figure.cpuRatio !== undefined && !/login flood/.test(figure.scenario) ? figure.cpuRatio : figure.ratio;
  const met = value >= target.ratio && (p99 === '' || figure.p99 <= target.p99!);
  return `${met ? 'met' : 'NOT met'} (≥${target.ratio}×${p99})`;
}

function table(figures: Figure[]): string {
  const header = ['scenario', 'store', 'conns', 'req/s', 'ceiling', 'ratio', 'CPU µs/req', 'CPU ratio', 'p50 ms', 'p99 ms (ceiling)', 'LG sleeps/req (ceiling)', 'errors', 'target'];
  const rows = figures.map((f) => [
    f.scenario,
    f.store,
    String(f.connections),
    String(f.requestsPerSecond),
    String(f.ceiling ?? f.argon2?.rate ?? ''),
    `${f.ratio!.toFixed(2)}×${f.argon2 !== undefined ? ' argon2' : ''}`,
    f.cpuUs !== undefined ? `${f.cpuUs} (${f.ceilingCpuUs ?? '–'})` : '',
    f.cpuRatio !== undefined ? `${f.cpuRatio.toFixed(2)}×` : '',
    `${f.p50}`,
    f.ceilingP99 !== undefined ? `${f.p99} (${f.ceilingP99})` : `${f.p99}`,
    f.loadSleeps === undefined ? '' : f.ceilingLoadSleeps === undefined ? f.loadSleeps.toFixed(2) : `${f.loadSleeps.toFixed(2)} (${f.ceilingLoadSleeps.toFixed(2)})`,
    String(f.errors),
    verdict(f),
  ]);
  const numeric = (i: number) => i >= 2 && i <= 11;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (numeric(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...rows.map(line)].join('\n');
}

/** How this machine's cores sleep when idle, which decides what waking the load generator costs (docs/benchmarks.md). */
function idleSetting(): string {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const driver = read('/sys/devices/system/cpu/cpuidle/current_driver');
  const pollNs = read('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  return driver === null ? '' : `, cpuidle ${driver}${pollNs === null ? '' : ` (guest_halt_poll_ns ${pollNs})`}`;
}

async function main(): Promise<void> {
  const model = cpus()[0]?.model ?? 'cpu';
  process.stderr.write(
    `tokend bench: ${settings.seconds} s per scenario, ${settings.connections.join(' and ')} connections, servers pinned to CPU ${settings.serverCpu ?? 'any'}, load generator on CPU ${settings.loadCpu ?? 'any'}, ${model} × ${MACHINE_CPUS}${idleSetting()}\n`,
  );
  // The shared machine's speed drifts by tens of percent within minutes: the ceiling is measured again
  // right before each store's scenarios, and each ratio uses the ceiling measured next to it.
  const ceilingServer = await startPinned(settings, [join(ROOT, 'bench/ceiling.ts')], {});
  settings.ceilingUrl = `${ceilingServer.url}/ceiling`;
  settings.ceilingPid = ceilingServer.child.pid ?? null;
  const figures: Figure[] = [];
  try {
    const bound = 'bound: bare Fastify POST parsing a form body';
    if (settings.only === null || settings.only.test(bound) || settings.only.test('introspect')) {
      const form = { url: `${ceilingServer.url}/form`, method: 'POST' as const, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=tka_${'x'.repeat(38)}` };
      figures.push(await measure(settings, bound, '-', settings.connections[0]!, form, form, settings.ceilingUrl, settings.ceilingPid));
    }
    for (const store of STORES) {
      for (const figure of await benchStore(settings, store)) {
        figures.push(figure);
      }
    }
  } finally {
    ceilingServer.child.kill('SIGTERM');
  }
  console.log(table(figures));
  for (const { store, argon2 } of figures) {
    if (argon2 === undefined) continue;
    console.log(
      `\n${store}: argon2id raw rate on the server core just before and just after the password grant: ${argon2.around.join(' and ')} hashes/s, ${argon2.cpuUs} CPU µs a hash (m = 19 MiB, t = 2, p = 1; ${argon2.atOnce} at once, as tokend's default TOKEND_HASH_CONCURRENCY there)`,
    );
  }
  const result = { at: new Date().toISOString(), seconds: settings.seconds, connections: settings.connections, cpus: MACHINE_CPUS, model, serverCpu: settings.serverCpu, figures };
  writeFileSync(join(ROOT, 'bench/results/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
}

await main();
