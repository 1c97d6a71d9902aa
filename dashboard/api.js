// @ts-check
/*
 * The page's session and its calls to tokend's JSON APIs on the same origin.
 *
 * The session lives in this module's variables only: never localStorage,
 * sessionStorage or a cookie. A reload signs out. Since the browser holds no
 * cookie for tokend, a request forged by another site carries no credential:
 * that is the CSRF defence. Secrets travel in headers and JSON bodies only,
 * never in a URL.
 */

/**
 * @typedef {{ kind: 'operator', token: string }} OperatorSession
 * @typedef {{ kind: 'user', accessToken: string, refreshToken: string | null, clientId: string | null, sessionId: string, me: Me }} UserSession
 * @typedef {{ user_id: number, username: string, user_profile_id: string, app: { client_id: string, name: string }, token: { id: string, kind: string, session_id: string | null } }} Me
 */

/** @type {OperatorSession | UserSession | null} */
let session = null;

/** @type {(reason: string) => void} */
let onExpired = () => {};

/** What the page does when tokend refuses the session (back to sign-in, with the reason). */
export function whenSessionEnds(/** @type {(reason: string) => void} */ handler) {
  onExpired = handler;
}

export const currentSession = () => session;

export function forget() {
  session = null;
}

/** An answer that was not 2xx, with the message tokend gave in whichever error shape. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * tokend's error shapes: OAuth `{error, error_description}`, JSON:API
 * `{errors: [{detail}]}`, DRF `{detail}`.
 * @param {Response} response
 */
async function errorOf(response) {
  /** @type {any} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const message =
    body?.error_description ?? body?.errors?.[0]?.detail ?? body?.detail ?? body?.error ?? `tokend answered ${response.status} ${response.statusText}`;
  if (response.status === 429) {
    const wait = response.headers.get('retry-after');
    return new ApiError(429, wait === null ? String(message) : `${message} (try again in ${wait} s)`);
  }
  return new ApiError(response.status, String(message));
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{ authorization?: string, body?: unknown }} options
 */
async function call(method, path, { authorization, body }) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError(0, 'tokend could not be reached; check the connection and try again.');
  }
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

/**
 * A query string of the non-empty values only. Never put a secret here.
 * @param {Record<string, string | number | boolean | null | undefined>} params
 */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/* ---- operator ---- */

/**
 * Checks an operator token against the operator API, then keeps it.
 * @param {string} token
 */
export async function signInOperator(token) {
  await call('GET', '/admin/v1/signing-keys', { authorization: `Bearer ${token}` });
  session = { kind: 'operator', token };
}

/**
 * A call to /admin/v1 with the operator token.
 * @param {'GET' | 'POST' | 'PATCH' | 'DELETE'} method
 * @param {string} path after /admin/v1
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function admin(method, path, body) {
  if (session?.kind !== 'operator') throw new ApiError(401, 'Not signed in as an operator.');
  try {
    return await call(method, `/admin/v1${path}`, { authorization: `Bearer ${session.token}`, body });
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) {
      forget();
      onExpired(`tokend refused the operator token: ${failure.message}`);
    }
    throw failure;
  }
}

/* ---- dashboard user ---- */

const LOGIN = '/api/auth/v1/access_tokens';

/**
 * @param {any} document a JSON:API AuthenticationTokens document
 */
const tokensOf = (document) => document.data[0];

/**
 * Password login through the JSON:API door (no client secret: a browser cannot keep one).
 * @param {{ username: string, password: string, clientId: string | null, deviceInfo: string }} credentials
 */
export async function signInUser({ username, password, clientId, deviceInfo }) {
  const body = { username, password, device_info: deviceInfo, ...(clientId === null ? {} : { client_id: clientId }) };
  const resource = tokensOf(await call('POST', LOGIN, { body }));
  const accessToken = resource.attributes.access_token;
  const me = await call('GET', '/v1/me', { authorization: `Bearer ${accessToken}` });
  session = { kind: 'user', accessToken, refreshToken: resource.attributes.refresh_token, clientId, sessionId: resource.id, me };
  return me;
}

/** @type {Promise<boolean> | null} */
let renewing = null;

/**
 * Trades the refresh token for a new pair; false if that is not possible.
 * Single-flight: refresh tokens are single-use, and a second concurrent
 * refresh with the same one would be taken for reuse and end the session.
 */
function renew() {
  renewing ??= renewOnce().finally(() => {
    renewing = null;
  });
  return renewing;
}

async function renewOnce() {
  if (session?.kind !== 'user' || session.refreshToken === null) return false;
  const current = session;
  try {
    const body = { grant_type: 'refresh_token', refresh_token: current.refreshToken, ...(current.clientId === null ? {} : { client_id: current.clientId }) };
    const resource = tokensOf(await call('POST', LOGIN, { body }));
    current.accessToken = resource.attributes.access_token;
    current.refreshToken = resource.attributes.refresh_token;
    return true;
  } catch {
    return false;
  }
}

/**
 * A call as the signed-in user; an expired access token is renewed once with the refresh token.
 * @param {'GET' | 'POST' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function asUser(method, path, body) {
  if (session?.kind !== 'user') throw new ApiError(401, 'Not signed in.');
  const current = session;
  const attempt = () => call(method, path, { authorization: `Bearer ${current.accessToken}`, body });
  const sent = current.accessToken;
  try {
    return await attempt();
  } catch (failure) {
    if (!(failure instanceof ApiError) || failure.status !== 401) throw failure;
    // Another call may have renewed the pair while this one was in flight.
    if (current.accessToken !== sent || (await renew())) return attempt();
    forget();
    onExpired('Your session ended (signed out or deauthorized). Sign in again.');
    throw failure;
  }
}

/** Ends the user's session on the server too (best effort, renewing an expired access token first), then forgets it. */
export async function signOut() {
  const current = session;
  if (current?.kind === 'user') {
    const logout = () => call('POST', '/v1/logout', { authorization: `Bearer ${current.accessToken}` });
    try {
      await logout();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401 && (await renew())) await logout().catch(() => {});
    }
  }
  forget();
}
