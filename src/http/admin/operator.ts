import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../core/context.js';

const operators = new WeakMap<FastifyRequest, Actor>();

export function setOperator(request: FastifyRequest, actor: Actor): void {
  operators.set(request, actor);
}

/** The operator who made this admin request, as the audit log names them. */
export function operatorOf(request: FastifyRequest): Actor {
  const actor = operators.get(request);
  if (actor === undefined) throw new Error('admin route reached without the operator guard');
  return actor;
}

export const operatorSecurity = [{ operator: [] }];

export interface ListQuery {
  limit?: number;
  cursor?: string;
}

export const pageOf = (query: ListQuery) => ({ limit: query.limit ?? 50, cursor: query.cursor ?? null });
