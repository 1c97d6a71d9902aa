/**
 * Runs the example API: `node --import tsx examples/resource-server/main.ts`.
 *   TOKEND_URL          where tokend listens (default http://127.0.0.1:8080)
 *   TOKEND_ISSUER       tokend's issuer, if it differs from TOKEND_URL
 *   TOKEND_CLIENT_ID / TOKEND_CLIENT_SECRET   the credentials to introspect and follow revocations with,
 *   or TOKEND_OPERATOR_TOKEN                  to accept every app's tokens
 *   PORT                listen port (default 3000; 0 = any)
 */
import { TokenVerifier, type VerifierCredentials } from 'tokend/sdk';
import { createResourceServer } from './app.js';

function credentials(env: NodeJS.ProcessEnv): VerifierCredentials {
  if (env.TOKEND_OPERATOR_TOKEN) return { operatorToken: env.TOKEND_OPERATOR_TOKEN };
  if (env.TOKEND_CLIENT_ID && env.TOKEND_CLIENT_SECRET) return { clientId: env.TOKEND_CLIENT_ID, clientSecret: env.TOKEND_CLIENT_SECRET };
  throw new Error('set TOKEND_CLIENT_ID and TOKEND_CLIENT_SECRET, or TOKEND_OPERATOR_TOKEN');
}

const baseUrl = process.env.TOKEND_URL ?? 'http://127.0.0.1:8080';
const verifier = new TokenVerifier({
  baseUrl,
  ...(process.env.TOKEND_ISSUER && { issuer: process.env.TOKEND_ISSUER }),
  credentials: credentials(process.env),
  onError: (error) => process.stderr.write(`revocation feed: ${(error as Error).message}\n`),
});
const server = createResourceServer(verifier).listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`resource server listening on http://127.0.0.1:${port}\n`);
});
const stop = () => {
  verifier.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
