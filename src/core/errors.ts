/**
 * Errors the core raises. Each carries an RFC 6749 / 6750 error code and an HTTP
 * status; the HTTP layer renders them in the calling dialect's shape. Anything
 * that is not a TokendError is answered as a bare `server_error`.
 */
export class TokendError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly description: string,
  ) {
    super(description);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends TokendError {
  constructor(description: string) {
    super('invalid_request', 400, description);
  }
}

export class InvalidClient extends TokendError {
  /** `basic` tells the HTTP layer to answer with a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2). */
  constructor(
    description = 'client authentication failed',
    readonly basic = false,
  ) {
    super('invalid_client', 401, description);
  }
}

export class InvalidGrant extends TokendError {
  constructor(description: string) {
    super('invalid_grant', 400, description);
  }
}

/**
 * A failed password login. Every cause answers the same bytes; `reason` is for
 * the audit log and for the `/v1/oauth/` dialect's debug mode in development only.
 */
export class LoginFailed extends InvalidGrant {
  constructor(readonly reason: 'unknown_user' | 'wrong_password' | 'disabled') {
    super('the username or password is wrong');
  }
}

export class UnauthorizedClient extends TokendError {
  constructor(description: string) {
    super('unauthorized_client', 400, description);
  }
}

export class UnsupportedGrantType extends TokendError {
  constructor(description: string) {
    super('unsupported_grant_type', 400, description);
  }
}

export class InvalidScope extends TokendError {
  constructor(description: string) {
    super('invalid_scope', 400, description);
  }
}

/** RFC 6750 §3.1: missing, malformed, expired or revoked bearer token. */
export class InvalidToken extends TokendError {
  constructor(description = 'the access token is missing, invalid, expired or revoked') {
    super('invalid_token', 401, description);
  }
}

/**
 * RFC 6750 §3.1: the token is good but lacks a scope the request needs. With
 * `scope` null, no scope would lift the refusal (forward-auth's uncovered route),
 * and the description says why instead.
 */
export class InsufficientScope extends TokendError {
  constructor(
    readonly scope: string | null,
    description = `this request needs the scope "${scope}"`,
  ) {
    super('insufficient_scope', 403, description);
  }
}

export class NotFound extends TokendError {
  constructor(what: string) {
    super('not_found', 404, `${what} not found`);
  }
}

export class Conflict extends TokendError {
  constructor(description: string) {
    super('conflict', 409, description);
  }
}

export class PayloadTooLarge extends TokendError {
  constructor(description = 'the request body is larger than 64 KiB') {
    super('invalid_request', 413, description);
  }
}

export class UnsupportedMediaType extends TokendError {
  constructor(description = 'send application/json or application/x-www-form-urlencoded') {
    super('invalid_request', 415, description);
  }
}

/** Too many attempts, or too many password hashes queued: come back after `retryAfter` seconds. */
export class RateLimited extends TokendError {
  constructor(
    readonly retryAfter: number,
    description = 'too many attempts; try again later',
  ) {
    super('slow_down', 429, description);
  }
}

/**
 * The client closed its connection while its login waited for a hashing
 * thread, so the hash is never computed. 499 is nginx's "client closed
 * request": nobody receives the answer, but logs and metrics tell it apart.
 */
export class ClientGone extends TokendError {
  constructor() {
    super('client_gone', 499, 'the client closed the connection before its password was checked');
  }
}

export class ServiceUnavailable extends TokendError {
  constructor(description = 'the token store is unavailable; try again shortly') {
    super('temporarily_unavailable', 503, description);
  }
}
