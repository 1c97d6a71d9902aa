import { createServer } from 'node:net';
import { buildApp } from '../http/app.js';
import { loadConfig } from '../config.js';
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

/** `tokend serve`: start the server; SIGTERM and SIGINT drain in-flight requests, then exit. */
export async function serve(overrides: Record<string, string>): Promise<void> {
  const config = loadConfig(process.env, overrides);
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  const runtime = await openRuntime({ overrides, issuerPort: port });
  const app = await buildApp({ core: runtime.core, logLevel: config.logLevel, trustProxy: config.trustProxy, version: VERSION });
  runtime.core.usage.start();

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
  process.stdout.write(`tokend ${VERSION} listening on http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port} (issuer ${runtime.core.settings.issuer})\n`);
}
