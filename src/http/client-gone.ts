import type { FastifyRequest } from 'fastify';

/**
 * Whether the client has closed the connection its request came on. A login
 * still waiting for a hashing thread is then dropped instead of hashed
 * (PasswordHasher.verify): under a flood, clients that time out and retry
 * would otherwise have every abandoned attempt hashed ahead of their retry.
 */
export const clientGone =
  (request: FastifyRequest) =>
  (): boolean =>
    request.raw.socket?.destroyed === true;
