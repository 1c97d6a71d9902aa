import { createServer } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { buildApp } from '../http/app.js';
import { loadConfig } from '../config.js';
import { Sweeper, type SweepEvent } from '../core/sweeper.js';
import { openRuntime, VERSION } from './runtime.js';

/** A free loopback port, so the issuer URL is known before the app is built. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** One line per sweep run: how many rows went and how long it took, or why it failed. */
function logSweep(log: FastifyBaseLogger, event: SweepEvent): void {
  if (event.type === 'failed') {
    const { type: _type, error, ...report } = event;
    log.error({ err: error, ...report }, 'sweep of expired tokens failed; retrying next run');
  } else {
    const { type: _type, ...report } = event;
    log.info(report, 'swept expired tokens');
  }
}

/** `tokend serve`: start the server; SIGTERM and SIGINT drain in-flight requests, then exit. */
export async function serve(overrides: Record<string, string>): Promise<void> {
  const config = loadConfig(process.env, overrides);
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  // Background errors (Redis reconnects, usage flushes) go to the log once it exists, at most once per 10 s per message.
  let report = (error: unknown): void => void process.stderr.write(`tokend: ${(error as Error).message}\n`);
  const lastReported = new Map<string, number>();
  const onError = (error: unknown) => {
    const message = (error as Error)?.message ?? String(error);
    if (Date.now() - (lastReported.get(message) ?? 0) < 10_000) return;
    lastReported.set(message, Date.now());
    report(error);
  };
  const runtime = await openRuntime({ overrides, issuerPort: port, cluster: true, onError });
  const app = await buildApp({ core: runtime.core, logLevel: config.logLevel, trustProxy: config.trustProxy, version: VERSION, metricsToken: config.metricsToken, forwardAuthRules: config.forwardAuthRules });
  report = (error) => app.log.error({ err: error }, 'background task failed');
  runtime.core.usage.start();
  const sweeper =
    config.sweepIntervalSeconds === 0
      ? null
      : new Sweeper(runtime.store, runtime.core.clock, {
          intervalMs: config.sweepIntervalSeconds * 1000,
          onEvent: (event) => logSweep(app.log, event),
        });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'draining in-flight requests, then exiting');
    // A request that will not finish must not keep the node from stopping.
    setTimeout(() => {
      app.log.error('requests still in flight after 10 s; exiting anyway');
      process.exit(1);
    }, 10_000).unref();
    await sweeper?.stop();
    await app.close();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  try {
    await app.listen({ host: config.host, port });
  } catch (error) {
    await runtime.close();
    throw new Error(`could not listen on ${config.host}:${port}: ${(error as Error).message} (set TOKEND_PORT or --port)`);
  }
  sweeper?.start();
  process.stdout.write(`tokend ${VERSION} listening on http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port} (issuer ${runtime.core.settings.issuer})\n`);
}
