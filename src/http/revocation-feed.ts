import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RevocationEvent } from '../cluster/events.js';
import type { Core } from '../core/context.js';
import { authenticateAppOrOperator } from './client-auth.js';
import { oauthError, useErrorShape } from './errors.js';

/** How often a vouching feed says so; a verifier stops trusting it after three missed beats (750 ms). */
export const HEARTBEAT_MS = 250;
const MAX_BUFFERED = 1 << 20;

/**
 * A revocation as a verifier can match it against what it holds: JWT claims
 * (`jti`, `sid`, `sub`, `client_id`) or the SHA-256 of a token. Ids only, never
 * secrets. `at` is tokend's clock when the revocation had committed: tokens
 * issued up to then (`iat * 1000 <= at`) are the ones it may touch.
 */
export type FeedRevocation =
  | { type: 'token'; jti: string; at: number }
  | { type: 'token_hash'; hash: string; at: number }
  | { type: 'session'; sid: string; at: number }
  | { type: 'user'; sub: string; at: number }
  | { type: 'client'; client_id: string; at: number }
  | { type: 'service_tokens'; client_id: string; at: number }
  | { type: 'all'; at: number };

/** Internal ids become what a verifier sees; an app or master key that cannot be found widens to `all`. */
async function toFeed(core: Core, event: RevocationEvent): Promise<FeedRevocation> {
  const at = core.clock.now();
  try {
    switch (event.scope) {
      case 'token':
        return { type: 'token', jti: event.id, at };
      case 'token-hash':
        return { type: 'token_hash', hash: event.hash, at };
      case 'session':
        return { type: 'session', sid: event.id, at };
      case 'user':
        return { type: 'user', sub: String(event.id), at };
      case 'app': {
        const app = await core.apps.findById(event.id);
        return app === null ? { type: 'all', at } : { type: 'client', client_id: app.clientId, at };
      }
      case 'master-key': {
        const key = await core.store.findMasterKeyById(event.id);
        const app = key === null ? null : await core.apps.findById(key.appId);
        return app === null ? { type: 'all', at } : { type: 'service_tokens', client_id: app.clientId, at };
      }
      case 'all':
        return { type: 'all', at };
    }
  } catch {
    return { type: 'all', at };
  }
}

/**
 * GET /v1/revocations: server-sent events (text/event-stream) a resource
 * server's verifier follows. `epoch` starts a span in which every revocation
 * this node hears is relayed, in order; `heartbeat` every 250 ms vouches that
 * the span holds; `untrusted` ends it (the node's bus can no longer prove
 * delivery across nodes) until the next `epoch`. A verifier must not rely on
 * local JWT checks outside a span with a fresh heartbeat: docs/sdk.md.
 */
export async function revocationFeedRoutes(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, oauthError);
  const followers = new Set<FastifyReply>();
  // One queue for events and heartbeats: a heartbeat never overtakes a revocation still being mapped.
  let queue: Promise<void> = Promise.resolve();
  const broadcast = (message: () => Promise<string> | string): void => {
    if (followers.size === 0) return;
    queue = queue
      .then(async () => {
        const text = await message();
        for (const reply of followers) {
          // A follower that stopped reading must not grow our memory: drop it; it reconnects into a new epoch.
          if (reply.raw.writableLength > MAX_BUFFERED) {
            followers.delete(reply);
            reply.raw.destroy();
          } else {
            reply.raw.write(text);
          }
        }
      })
      .catch(() => {
        // A message that could not be sent may have been a revocation: no follower may go on trusting this span.
        for (const reply of followers) reply.raw.destroy();
        followers.clear();
      });
  };
  const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  let trusted = core.bus.trusted;

  // The bus has no unsubscribe: one listener for the app's lifetime, fanned out to the followers.
  core.bus.onEvent((event) => broadcast(async () => sse('revoked', await toFeed(core, event))));
  const observe = (now: boolean): void => {
    if (now === trusted) return;
    trusted = now;
    broadcast(() => (now ? sse('epoch', { now: core.clock.now() }) : sse('untrusted', {})));
  };
  core.bus.onTrustChange(observe);
  // The bus reports a change on its own 250 ms tick; reading `trusted` every 50 ms says `untrusted` up to 200 ms sooner.
  const watch = setInterval(() => observe(core.bus.trusted), 50);
  const beat = setInterval(() => {
    observe(core.bus.trusted);
    if (trusted) broadcast(() => sse('heartbeat', { now: core.clock.now() }));
  }, HEARTBEAT_MS);
  watch.unref();
  beat.unref();
  app.addHook('onClose', async () => {
    clearInterval(watch);
    clearInterval(beat);
    for (const reply of followers) reply.raw.end();
    followers.clear();
  });
  // Ending the streams before close waits for them lets `app.close()` finish.
  app.addHook('preClose', async () => {
    for (const reply of followers) reply.raw.end();
    followers.clear();
  });

  app.get(
    '/v1/revocations',
    { schema: { tags: ['Revocation feed'], summary: 'Server-sent events of revocations (ids only), with a 250 ms heartbeat while this node can vouch for delivery' } },
    async (request, reply) => {
      // Who may follow: an app by its client credentials, or an operator.
      await authenticateAppOrOperator(core, request, {});
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      reply.raw.write(`retry: 500\n\n`);
      // Joined through the queue, so the epoch comes after anything already being sent.
      queue = queue.then(() => {
        if (reply.raw.destroyed) return;
        reply.raw.write(trusted ? sse('epoch', { now: core.clock.now() }) : sse('untrusted', {}));
        followers.add(reply);
      });
      request.raw.on('close', () => followers.delete(reply));
    },
  );
}
