import { InvalidResponseError, UnavailableError } from './errors.js';

/** The subset of WHATWG `fetch` the SDK needs, so a caller may inject its own (a proxy agent, a test double). */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Milliseconds since the epoch; injectable so renewal timing can be tested without sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Waits `ms`; injectable for the same reason. */
export type Sleep = (ms: number) => Promise<void>;
export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request to tokend: network failures, 429 and 5xx become UnavailableError; the rest is the caller's to read. */
export async function call(fetchImpl: Fetch, url: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, init);
  } catch (error) {
    throw new UnavailableError(`tokend is unreachable at ${new URL(url).origin}: ${(error as Error).message}`, { cause: error });
  }
  if (response.status === 429 || response.status >= 500) {
    await response.body?.cancel();
    throw new UnavailableError(`tokend answered ${response.status} to ${new URL(url).pathname}`, { status: response.status });
  }
  return response;
}

/** A JSON body, or InvalidResponseError naming where it came from. */
export async function jsonOf<T>(response: Response, what: string): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch {
    throw new InvalidResponseError(`${what}: the answer (${response.status}) is not JSON`);
  }
}

/** RFC 6749 §2.3.1: client credentials are form-urlencoded before they are joined and base64-encoded. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const form = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${btoa(`${form(clientId)}:${form(clientSecret)}`)}`;
}

/** Exponential backoff with full jitter (AWS architecture blog), capped. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

export const trimSlash = (url: string): string => url.replace(/\/+$/, '');
