import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RevocationLedger, type FeedRevocation, type JwtFacts } from '../../sdk/server/revocations.js';

/**
 * The verifier's safety rule, as a property: whatever revocations arrive, a
 * JWT that any of them may have killed is never trusted on its signature
 * alone. (Introspection, which is authoritative, then decides.)
 */

const ids = fc.constantFrom('a', 'b', 'c');
const time = fc.integer({ min: 0, max: 100 });
const event: fc.Arbitrary<FeedRevocation> = fc.oneof(
  fc.record({ type: fc.constant('token' as const), jti: ids, at: time }),
  fc.record({ type: fc.constant('token_hash' as const), hash: ids, at: time }),
  fc.record({ type: fc.constant('session' as const), sid: ids, at: time }),
  fc.record({ type: fc.constant('user' as const), sub: ids, at: time }),
  fc.record({ type: fc.constant('client' as const), client_id: ids, at: time }),
  fc.record({ type: fc.constant('service_tokens' as const), client_id: ids, at: time }),
  fc.record({ type: fc.constant('all' as const), at: time }),
);
const jwt: fc.Arbitrary<JwtFacts> = fc.record({ hash: ids, jti: ids, sid: fc.option(ids, { nil: null }), sub: ids, clientId: ids, issuedAt: time });

const SKEW = 3;

/**
 * Whether an event may have revoked this token: it names the token (or what
 * covers it), and the token was issued before it — as far as clocks that
 * disagree by up to SKEW can tell.
 */
function mayKill(e: FeedRevocation, t: JwtFacts): boolean {
  if (t.issuedAt > e.at + SKEW) return false;
  switch (e.type) {
    case 'token':
      return e.jti === t.jti;
    case 'token_hash':
      return e.hash === t.hash;
    case 'session':
      return e.sid === t.sid;
    case 'user':
      return e.sub === t.sub;
    case 'client':
    case 'service_tokens':
      return e.client_id === t.clientId;
    case 'all':
      return true;
  }
}

describe('RevocationLedger', () => {
  test('never vouches for a token any recorded revocation may have killed, nor one issued before the epoch', () => {
    fc.assert(
      fc.property(time, fc.array(event, { maxLength: 12 }), jwt, fc.integer({ min: 1, max: 20 }), (since, events, token, cap) => {
        const ledger = new RevocationLedger(cap, SKEW);
        ledger.reset(since);
        for (const e of events) ledger.record(e);
        const vouched = ledger.vouchesFor(token);
        if (token.issuedAt <= since + SKEW || events.some((e) => mayKill(e, token))) return !vouched;
        return true;
      }),
      { numRuns: 5000 },
    );
  });

  test('a token untouched by every revocation and issued inside the epoch is vouched for', () => {
    const ledger = new RevocationLedger(10_000, 5);
    ledger.reset(10);
    ledger.record({ type: 'token', jti: 'other', at: 20 });
    ledger.record({ type: 'user', sub: '7', at: 30 });
    assert.equal(ledger.vouchesFor({ hash: 'h', jti: 'mine', sid: 's', sub: '7', clientId: 'c', issuedAt: 36 }), true);
    assert.equal(ledger.vouchesFor({ hash: 'h', jti: 'mine', sid: 's', sub: '7', clientId: 'c', issuedAt: 35 }), false, 'may predate the user\'s revocation on a faster clock');
  });

  test('losing the feed vouches for nothing until the next epoch', () => {
    const ledger = new RevocationLedger();
    ledger.reset(0);
    ledger.invalidate();
    assert.equal(ledger.vouchesFor({ hash: 'h', jti: 'j', sid: null, sub: 's', clientId: 'c', issuedAt: 1e15 }), false);
  });
});
