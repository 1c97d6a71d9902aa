import type { Fetch } from '../http.js';

/** Anything that hands out a token and can replace one a server refused: a ServiceTokenSource or a UserSession. */
export interface TokenProvider {
  token(): Promise<string>;
  /** Gets a fresh token unless `refused` has already been replaced. */
  renew(refused: string): Promise<unknown>;
}

/** Adapts a UserSession (whose verbs are `accessToken` / `refresh`) to a TokenProvider. */
export function sessionProvider(session: { accessToken(): Promise<string>; refresh(refused?: string): Promise<unknown> }): TokenProvider {
  return { token: () => session.accessToken(), renew: (refused) => session.refresh(refused) };
}

export interface AuthorizedFetchOptions {
  /** `Bearer` (RFC 6750) by default; `Token` for seed 002 style servers. */
  scheme?: 'Bearer' | 'Token';
  fetch?: Fetch;
}

/** A body that can be sent twice; a stream cannot, so such a request is never retried. */
const replayable = (body: RequestInit['body']): boolean => body == null || typeof body === 'string' || body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob;

/**
 * `fetch` with `Authorization: Bearer <token>` added. After a 401 it gets a
 * fresh token and retries once; a second 401 is returned as it is (the token
 * is not the problem then, or the server refuses this caller).
 */
export function authorizedFetch(provider: TokenProvider, options: AuthorizedFetchOptions = {}): Fetch {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const scheme = options.scheme ?? 'Bearer';
  const send = (input: string | URL | Request, init: RequestInit | undefined, token: string): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `${scheme} ${token}`);
    return fetchImpl(input instanceof Request ? input.clone() : input, { ...init, headers });
  };
  return async (input, init) => {
    const token = await provider.token();
    const response = await send(input, init, token);
    // A Request is cloned for each try, so only a one-shot body in `init` stops the retry.
    if (response.status !== 401 || !replayable(init?.body)) return response;
    await response.body?.cancel();
    await provider.renew(token);
    return send(input, init, await provider.token());
  };
}
