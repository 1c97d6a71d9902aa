import type { Core } from './context.js';
import { andThen, type Maybe } from './maybe.js';
import type { App } from './model.js';
import { verifyToken, type Verified } from './verification.js';

/** RFC 7662 §2.2 response, with tokend's `kind`, `session_id` and `install_id`. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      username?: string;
      token_type: string;
      exp?: number;
      iat: number;
      sub: string;
      aud: string;
      iss: string;
      jti: string;
      kind: string;
      session_id: string | null;
      install_id: string | null;
    };

const INACTIVE: Introspection = { active: false };

/** Answers kept at most: a few megabytes with the tokens they describe; the oldest goes first. */
const ANSWERS_KEPT = 4_096;

/**
 * The answers of the tokens introspected lately, by verification: a repeat
 * verification hands back the verification cache's own object, so a repeat
 * introspection builds nothing, and equal answers are the same object (the
 * HTTP layer keeps each one serialized against it). A revoked, changed or
 * expired token's verification is never handed back again, so its answer is
 * never reached; it waits for its turn to go. Bounded, unlike a WeakMap
 * beside the verification cache, which at 100,000 entries could have held
 * 50 MB of answers for tokens introspected once.
 */
const answers = new Map<Verified, Introspection>();

function answerFor(core: Core, verified: Verified): Introspection {
  let answer = answers.get(verified);
  if (answer === undefined) {
    answer = activeAnswer(core, verified);
    if (answers.size >= ANSWERS_KEPT) answers.delete(answers.keys().next().value!);
    answers.set(verified, answer);
  }
  return answer;
}

/**
 * Introspects a token for an app (which sees only its own tokens) or for an
 * operator (`app` null, sees all). Unknown, expired, revoked, used and foreign
 * tokens are all just inactive. Like verifyToken, it answers at once when no
 * store read is needed. Equal answers are the same object.
 */
export function introspectToken(core: Core, presented: string, caller: App | null): Maybe<Introspection> {
  // RFC 7662 is an OAuth endpoint: /oauth/introspect is its only door.
  return andThen(verifyToken(core, presented, 'oauth'), (verified) =>
    verified === null || (caller !== null && caller.id !== verified.app.id) ? INACTIVE : answerFor(core, verified),
  );
}

function activeAnswer(core: Core, { token, app, user }: Verified): Introspection {
  return {
    active: true,
    scope: token.scopes.join(' '),
    client_id: app.clientId,
    ...(user !== null && { username: user.username }),
    token_type: token.kind === 'refresh' ? 'refresh_token' : 'Bearer',
    ...(token.expiresAt !== null && { exp: Math.floor(token.expiresAt / 1000) }),
    iat: Math.floor(token.createdAt / 1000),
    sub: user !== null ? String(user.id) : app.clientId,
    aud: app.audience ?? core.settings.issuer,
    iss: core.settings.issuer,
    jti: token.id,
    kind: token.kind,
    session_id: token.sessionId,
    install_id: token.installId,
  };
}
