import { InvalidRequest, InvalidScope } from './errors.js';

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function parseScope(text: string): string[] {
  const scopes = text.split(' ').filter((s) => s !== '');
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new InvalidScope(`"${scope.slice(0, 40)}" is not a valid scope`);
  }
  return [...new Set(scopes)];
}

/** Validates scope names given by an operator (apps) rather than a client. */
export function checkScopeNames(scopes: readonly string[]): string[] {
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new InvalidRequest(`"${scope.slice(0, 40)}" is not a valid scope name`);
  }
  return [...new Set(scopes)];
}

/**
 * The scopes a new grant gets: all of `allowed` when none are asked for
 * (RFC 6749 §3.3 lets the server pick a default), else exactly the ones asked
 * for, each of which must be allowed.
 */
export function grantScopes(requested: string | undefined, allowed: readonly string[]): string[] {
  if (requested === undefined) return [...allowed];
  const asked = parseScope(requested);
  const refused = asked.filter((s) => !allowed.includes(s));
  if (refused.length > 0) throw new InvalidScope(`scope not allowed: ${refused.join(' ')}`);
  return asked;
}

export const formatScope = (scopes: readonly string[]): string => scopes.join(' ');
