import type { Door } from '../core/observer.js';

/** Route prefixes of each door, most specific first (`/v1/oauth` before the rest of `/v1/`). */
const ROUTE_PREFIXES: ReadonlyArray<readonly [string, Door]> = [
  ['/oauth/', 'oauth'],
  ['/.well-known/', 'oauth'],
  ['/v1/oauth', 'v1-oauth'],
  ['/api/auth/v1.0/', 'master-key'],
  ['/api/auth/v1/', 'jsonapi'],
  ['/v3/users/token', 'install-token'],
  ['/admin/', 'admin'],
  ['/v1/', 'self-service'],
];

/** The door a route belongs to, from its registered URL (never the request's own path: that is client input). */
export function doorOfRoute(url: string | undefined): Door {
  if (url === undefined) return 'other';
  for (const [prefix, door] of ROUTE_PREFIXES) if (url.startsWith(prefix)) return door;
  return 'other';
}
