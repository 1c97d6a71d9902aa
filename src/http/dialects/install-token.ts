import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/context.js';

export async function installTokenDialect(_app: FastifyInstance, _options: { core: Core }): Promise<void> {}
