/** Stable codes a caller can switch on; they never change meaning between versions. */
export type TokendErrorCode =
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unavailable'
  | 'invalid_credentials'
  | 'session_ended'
  | 'invalid_response';

/** Every error the SDK throws: `code` is stable, `message` is for people. */
export class TokendSdkError extends Error {
  constructor(
    readonly code: TokendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** RFC 6750 §3.1: missing, malformed, expired, revoked, or not admitted by the route. Answer 401. */
export class InvalidTokenError extends TokendSdkError {
  constructor(message = 'the token is missing, invalid, expired or revoked') {
    super('invalid_token', message);
  }
}

/** RFC 6750 §3.1: a live token without a scope the route needs. Answer 403. */
export class InsufficientScopeError extends TokendSdkError {
  constructor(readonly scope: string) {
    super('insufficient_scope', `this request needs the scope "${scope}"`);
  }
}

/** tokend could not be reached or answered 5xx / 429; the caller may retry. Never a reason to let a token through. */
export class UnavailableError extends TokendSdkError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super('unavailable', message, options);
    this.status = options?.status ?? null;
  }
  readonly status: number | null;
}

/** tokend refused the master key, the client credentials or the password: retrying will not help. */
export class InvalidCredentialsError extends TokendSdkError {
  constructor(message: string) {
    super('invalid_credentials', message);
  }
}

/** The session can no longer be renewed (refresh refused, logged out, no refresh token): log in again. */
export class SessionEndedError extends TokendSdkError {
  constructor(message: string) {
    super('session_ended', message);
  }
}

/** tokend answered something the SDK cannot read: a proxy in the way, or a wrong base URL. */
export class InvalidResponseError extends TokendSdkError {
  constructor(message: string) {
    super('invalid_response', message);
  }
}
