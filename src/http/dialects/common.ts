import { Type } from '@sinclair/typebox';
import { findDefaultApp, findLiveApp } from '../../core/apps.js';
import type { Core } from '../../core/context.js';
import { InvalidClient, InvalidGrant, InvalidRequest, TokendError } from '../../core/errors.js';
import type { App } from '../../core/model.js';
import type { ErrorRenderer } from '../errors.js';

/**
 * The app a seed-dialect request acts for (SPEC §5): the one it names by
 * `client_id`, else the `default` app.
 */
export async function dialectApp(core: Core, clientId: unknown): Promise<App> {
  if (clientId !== undefined && typeof clientId !== 'string') throw new InvalidRequest('client_id must be a string');
  const app = clientId === undefined ? await findDefaultApp(core) : await findLiveApp(core, clientId);
  if (app === null) throw new InvalidClient(clientId === undefined ? 'there is no default app; name one with client_id' : 'unknown client_id');
  return app;
}

export type Params = Record<string, string | undefined>;

/**
 * Parameters from several places at once (seed 004 takes query, form or JSON):
 * every value must be a string, and a name given in two places is 400, like a
 * name given twice in one place (SPEC §9).
 */
export function mergeParams(...sources: Array<unknown>): Params {
  const merged: Params = {};
  for (const source of sources) {
    if (source === undefined || source === null) continue;
    if (typeof source !== 'object' || Array.isArray(source)) throw new InvalidRequest('the body must be an object');
    for (const [name, value] of Object.entries(source)) {
      if (Object.hasOwn(merged, name)) throw new InvalidRequest(`parameter "${name.slice(0, 40)}" is given more than once`);
      if (typeof value !== 'string') throw new InvalidRequest(`parameter "${name.slice(0, 40)}" must be a string`);
      merged[name] = value;
    }
  }
  return merged;
}

/** ISO 8601 UTC with `Z`, to the second, as seed 000 shows its times. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const unixSeconds = (ms: number): number => Math.floor(ms / 1000);

/** Seeds 000 and 002 come from Django REST framework APIs, and answer errors as DRF does: `{detail}`. */
export const detailError: ErrorRenderer = (error) => ({ detail: error.description });

export const Detail = Type.Object({ detail: Type.String() }, { description: 'What went wrong (DRF-style error)' });

/** The `{detail}` error answers of an endpoint, for the OpenAPI document. */
export const detailErrors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, Detail]));

/**
 * Seeds 001 and 004 answer bad credentials and dead refresh tokens with 401,
 * where RFC 6749 §5.2 says 400 `invalid_grant`; the code and the (single,
 * cause-free) description stay the core's.
 */
export const invalidGrantAs401 = (error: unknown): unknown =>
  error instanceof InvalidGrant ? new TokendError(error.code, 401, error.description) : error;
