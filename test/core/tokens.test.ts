import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidRequest, InvalidScope } from '../../src/core/errors.js';
import { timeOrderedId } from '../../src/core/ids.js';
import { randomView } from '../../src/core/random.js';
import { parseScope } from '../../src/core/scopes.js';
import { matchesDigest, sameSecret } from '../../src/core/secrets.js';
import { PREFIXES, digestOfKey, hashSecret, isTokenKind, looksLikeJwt, mintSecret, mintTokenSecret, parseSecret, tokenKey, type SecretKind, type TokenKind } from '../../src/core/tokens.js';
import { DUPLICATES, parseParams, rejectDuplicates } from '../../src/http/body.js';
import { redactUrl } from '../../src/http/logging.js';

const KINDS = Object.keys(PREFIXES) as SecretKind[];
const BASE62 = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const kind = fc.constantFrom(...KINDS);
/** Any one UTF-16 code unit, weighted towards the base62 characters a checksum must tell apart. */
const oneChar = fc.oneof(fc.constantFrom(...BASE62), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((s) => s.length === 1));
/** Text from anywhere: full Unicode, lone surrogates, control characters. */
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 }));

describe('opaque secrets', () => {
  test('every minted secret of every kind parses back to its kind, with its prefix and a 38-character base62 body', () => {
    fc.assert(
      fc.property(kind, (k) => {
        const secret = mintSecret(k);
        assert.equal(secret.length, 42);
        assert.ok(secret.startsWith(PREFIXES[k]));
        assert.match(secret.slice(4), /^[0-9A-Za-z]{38}$/);
        assert.equal(parseSecret(secret), k);
      }),
      { numRuns: 500 },
    );
  });

  test('a minted token of every kind parses back to its kind, as long as any other secret, and leads with its locator', () => {
    const tokenKind = fc.constantFrom(...(KINDS.filter(isTokenKind) as TokenKind[]));
    // Any millisecond from 1970 to 2100.
    fc.assert(
      fc.property(tokenKind, fc.integer({ min: 0, max: 4_102_444_800_000 }), (k, at) => {
        const token = mintTokenSecret(k, at);
        assert.equal(token.length, 42);
        assert.ok(token.startsWith(PREFIXES[k]));
        assert.match(token.slice(4), /^[0-9A-Za-z]{38}$/);
        assert.equal(parseSecret(token), k);
        assert.equal(token.slice(4, 9), mintTokenSecret(k, at).slice(4, 9));
        assert.equal(tokenKey(token), token.slice(4, 9) + hashSecret(token));
        assert.equal(digestOfKey(tokenKey(token)), hashSecret(token));
      }),
      { numRuns: 500 },
    );
  });

  test("a token's locator is the millisecond of issue modulo 62^5, in base62 whose text order is its number order", () => {
    const span = 62 ** 5;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 1, max: 86_400_000 }), (at, later) => {
        fc.pre(Math.floor(at / span) === Math.floor((at + later) / span));
        assert.ok(mintTokenSecret('access', at).slice(4, 9) < mintTokenSecret('access', at + later).slice(4, 9));
        assert.equal(mintTokenSecret('access', at).slice(4, 9), mintTokenSecret('refresh', at + span).slice(4, 9));
      }),
      { numRuns: 1000 },
    );
    assert.equal(mintTokenSecret('access', 0).slice(4, 9), '00000');
    assert.equal(mintTokenSecret('access', span - 1).slice(4, 9), 'zzzzz');
  });

  test('tokens minted in the same millisecond still differ in their 27 random characters', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => mintTokenSecret('access', 1_793_534_400_000).slice(9, 36)));
    assert.equal(seen.size, 2000);
  });

  test("a JWT's store key is its SHA-256 alone", () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln';
    assert.equal(tokenKey(jwt), hashSecret(jwt));
    assert.equal(digestOfKey(tokenKey(jwt)), hashSecret(jwt));
  });

  test('every kind has its own four-character prefix', () => {
    const prefixes = Object.values(PREFIXES);
    assert.equal(new Set(prefixes).size, prefixes.length);
    for (const prefix of prefixes) assert.match(prefix, /^tk[a-z]_$/);
  });

  test('minted secrets do not repeat', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => mintSecret('access')));
    assert.equal(seen.size, 2000);
  });

  test('any single-character change makes the secret unparseable', () => {
    fc.assert(
      fc.property(kind, fc.nat({ max: 41 }), oneChar, (k, at, replacement) => {
        const secret = mintSecret(k);
        fc.pre(secret[at] !== replacement);
        const changed = secret.slice(0, at) + replacement + secret.slice(at + 1);
        assert.equal(parseSecret(changed), null);
      }),
      { numRuns: 5000 },
    );
  });

  test('swapping two different adjacent characters makes the secret unparseable', () => {
    fc.assert(
      fc.property(kind, fc.nat({ max: 40 }), (k, at) => {
        const secret = mintSecret(k);
        fc.pre(secret[at] !== secret[at + 1]);
        const swapped = secret.slice(0, at) + secret[at + 1] + secret[at] + secret.slice(at + 2);
        assert.equal(parseSecret(swapped), null);
      }),
      { numRuns: 2000 },
    );
  });

  test('adding or removing a character makes the secret unparseable', () => {
    fc.assert(
      fc.property(kind, fc.nat({ max: 42 }), oneChar, (k, at, extra) => {
        const secret = mintSecret(k);
        assert.equal(parseSecret(secret.slice(0, at) + extra + secret.slice(at)), null);
        assert.equal(parseSecret(secret.slice(0, at % 42) + secret.slice((at % 42) + 1)), null);
      }),
    );
  });

  test('random strings never parse and never throw', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        assert.equal(parseSecret(text), null);
      }),
      { numRuns: 2000 },
    );
  });

  test('a known prefix with a random base62 body is refused by its checksum', () => {
    const body = fc.array(fc.constantFrom(...BASE62), { minLength: 38, maxLength: 38 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(kind, body, (k, rest) => {
        // A random 6-character checksum matches with odds 62^-6, far below one in the runs made here.
        assert.equal(parseSecret(PREFIXES[k] + rest), null);
      }),
      { numRuns: 2000 },
    );
  });

  test('hashSecret is 64 lowercase hex characters, stable for one secret', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const hash = hashSecret(text);
        assert.match(hash, /^[0-9a-f]{64}$/);
        assert.equal(hashSecret(text), hash);
      }),
    );
  });

  test('hashSecret differs for different secrets', () => {
    fc.assert(
      fc.property(anyText, anyText, (a, b) => {
        // Lone surrogates both become U+FFFD when hashed as UTF-8, so compare what is hashed.
        fc.pre(Buffer.from(a).compare(Buffer.from(b)) !== 0);
        assert.notEqual(hashSecret(a), hashSecret(b));
      }),
    );
    fc.assert(
      fc.property(kind, kind, (a, b) => {
        assert.notEqual(hashSecret(mintSecret(a)), hashSecret(mintSecret(b)));
      }),
    );
  });

  test('looksLikeJwt never throws on random input and accepts only the three-part base64url shape', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const answer = looksLikeJwt(text);
        assert.equal(typeof answer, 'boolean');
        if (answer) assert.equal(text.split('.').length, 3);
      }),
      { numRuns: 2000 },
    );
  });

  test('looksLikeJwt accepts a JOSE header followed by two base64url parts', () => {
    const segment = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64url'));
    // A JOSE header names its `alg` first, as jose writes it, so its base64url starts `eyJ` (`{"`).
    const key = fc.string().filter((k) => !/^(0|[1-9]\d*)$/.test(k));
    fc.assert(
      fc.property(fc.string(), fc.dictionary(key, fc.string()), segment, segment, (alg, extra, payload, signature) => {
        const token = `${Buffer.from(JSON.stringify({ alg, ...extra })).toString('base64url')}.${payload}.${signature}`;
        assert.equal(looksLikeJwt(token), true);
      }),
    );
  });

  test('no minted opaque secret looks like a JWT', () => {
    fc.assert(fc.property(kind, (k) => assert.equal(looksLikeJwt(mintSecret(k)), false)));
  });
});

describe('parseScope', () => {
  /** Strings built mostly from the characters that matter to the scope grammar. */
  const scopeish = fc.string({ unit: fc.constantFrom(' ', ' ', 'a', 'b', ':', '"', '\\', '\t', '\x7f', 'é', '\u0000', 'read', 'write'), maxLength: 30 });

  test('returns valid, distinct scope tokens from the text or throws InvalidScope, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, scopeish), (text) => {
        let scopes: string[];
        try {
          scopes = parseScope(text);
        } catch (error) {
          assert.ok(error instanceof InvalidScope, `unexpected ${String(error)}`);
          assert.equal(error.code, 'invalid_scope');
          assert.equal(error.status, 400);
          return;
        }
        assert.ok(Array.isArray(scopes));
        assert.equal(new Set(scopes).size, scopes.length);
        const words = text.split(' ');
        for (const scope of scopes) {
          assert.match(scope, SCOPE_TOKEN);
          assert.ok(words.includes(scope));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('space-separated valid scope tokens come back whole, in order, without repeats', () => {
    const token = fc.string({ unit: fc.constantFrom(...'abcxyz:./-_!#[]~'), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), (tokens) => {
        assert.deepEqual(parseScope(tokens.join(' ')), [...new Set(tokens)]);
      }),
    );
  });
});

describe('parseParams and rejectDuplicates', () => {
  const queryish = fc.string({ unit: fc.constantFrom('a', 'b', '=', '&', '%', '%2', '%zz', '%E2%82', '+', '__proto__', 'constructor', 'é', '\uD800', '#', '?'), maxLength: 40 });

  test('parseParams never throws on an arbitrary query string and keeps the first value of each name', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, queryish), (text) => {
        const params = parseParams(text);
        const first = new Map<string, string>();
        for (const [name, value] of new URLSearchParams(text)) if (!first.has(name)) first.set(name, value);
        assert.deepEqual(new Map(Object.entries(params)), first);
        // It inherits nothing (no toString, no __proto__ setter): its prototype is an empty one with none of its own.
        const inherited = Object.getPrototypeOf(params) as object;
        assert.equal(Object.getPrototypeOf(inherited), null);
        assert.deepEqual(Reflect.ownKeys(inherited), []);
      }),
      { numRuns: 3000 },
    );
  });

  const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
  const value = fc.string({ unit: 'grapheme', maxLength: 12 });

  test('rejectDuplicates lets a query with distinct names through', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, maxLength: 6 }), (pairs) => {
        const params = parseParams(new URLSearchParams(pairs).toString());
        assert.equal(params[DUPLICATES], undefined);
        rejectDuplicates(params, 'query');
      }),
    );
  });

  test('rejectDuplicates refuses a name given twice, wherever the repeat is', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, minLength: 1, maxLength: 6 }), fc.nat(), value, (pairs, pick, again) => {
        const repeated = pairs[pick % pairs.length]![0];
        const query = new URLSearchParams([...pairs, [repeated, again]]).toString();
        assert.throws(() => rejectDuplicates(parseParams(query), 'form'), (error: unknown) => {
          assert.ok(error instanceof InvalidRequest);
          assert.equal(error.status, 400);
          return true;
        });
      }),
    );
  });

  test('rejectDuplicates accepts undefined and plain objects', () => {
    rejectDuplicates(undefined, 'query');
    rejectDuplicates({ a: '1' }, 'query');
  });
});

describe('redactUrl', () => {
  const SECRET_NAMES = ['token', 'password', 'client_secret'];
  const MARKER = 'Zq9SECRETq9Z';
  /** A parameter name, sometimes with some of its characters percent-encoded. */
  const secretName = fc
    .tuple(fc.constantFrom(...SECRET_NAMES), fc.array(fc.boolean(), { minLength: 13, maxLength: 13 }))
    .map(([n, encode]) => [...n].map((c, i) => (encode[i] ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c)).join(''));
  const encodeValue = fc.constantFrom(
    (v: string) => encodeURIComponent(v),
    (v: string) => new URLSearchParams({ v }).toString().slice(2),
    (v: string) => v.replace(/[&#%+=]/g, (c) => encodeURIComponent(c)),
  );
  const safe = fc.tuple(fc.constantFrom('client_id', 'installid', 'limit', 'other'), fc.string({ unit: 'grapheme-ascii', maxLength: 8 }));
  const secretValue = fc.oneof(anyText, fc.string({ unit: fc.constantFrom('&', '=', '+', '%', ' ', '#', '?', 'é', '/', '\n'), maxLength: 10 }));

  test('never leaves the value of a token, password or client_secret parameter in its output', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(secretName, secretValue, encodeValue), { minLength: 1, maxLength: 4 }),
        fc.array(safe, { maxLength: 3 }),
        fc.nat(),
        (secrets, others, shuffle) => {
          const parts = others.map(([n, v]) => `${n}=${encodeURIComponent(v)}`);
          secrets.forEach(([n, v, encode], i) => parts.splice((shuffle + i) % (parts.length + 1), 0, `${n}=${encode(MARKER + v)}`));
          const url = `/v1/anything?${parts.join('&')}`;
          const logged = redactUrl(url);

          assert.ok(!logged.includes(MARKER), logged);
          const query = new URLSearchParams(logged.slice(logged.indexOf('?') + 1));
          for (const n of SECRET_NAMES) for (const v of query.getAll(n)) assert.equal(v, '[redacted]');
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('keeps the path and the values of harmless parameters', () => {
    assert.equal(redactUrl('/v1/me'), '/v1/me');
    assert.equal(redactUrl('/x?client_id=abc&token=tka_1&limit=5'), '/x?client_id=abc&token=%5Bredacted%5D&limit=5');
  });

  test('never throws on an arbitrary URL', () => {
    fc.assert(fc.property(anyText, anyText, (path, query) => assert.equal(typeof redactUrl(`/${path}?${query}`), 'string')));
  });
});

describe('time-ordered ids (UUID v7) for tokens and sessions', () => {
  test('are RFC 9562 version 7 UUIDs that sort by time and never repeat', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => timeOrderedId(Date.UTC(2026, 10, 24) + i));
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...ids].sort(), ids, 'later ids sort after earlier ones');
    assert.equal(new Set(ids).size, ids.length);
    const sameMillisecond = Array.from({ length: 1_000 }, () => timeOrderedId(Date.UTC(2026, 10, 24)));
    assert.equal(new Set(sameMillisecond).size, 1_000, 'within one millisecond the random bits keep them apart');
    assert.equal(sameMillisecond[0]!.slice(0, 13), timeOrderedId(Date.UTC(2026, 10, 24)).slice(0, 13), 'the first 48 bits are the time');
  });
});

describe('the random pool', () => {
  test('hands every byte out once: draws across many refills never repeat a 16-byte run, and sizes above the pool work', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const size = 1 + (i % 70);
      const view = randomView(size);
      assert.equal(view.length, size);
      if (size >= 16) seen.add(view.subarray(0, 16).toString('hex'));
    }
    const sixteenOrMore = Array.from({ length: 5_000 }, (_, i) => 1 + (i % 70)).filter((size) => size >= 16).length;
    assert.equal(seen.size, sixteenOrMore, 'no two draws began with the same 16 bytes');
    const big = randomView(10_000);
    assert.equal(big.length, 10_000);
    assert.ok(new Set(big).size > 200, 'a large draw is random bytes, not a zeroed buffer');
  });
});

describe('a presented secret against a stored SHA-256', () => {
  test('matches only its own hash; a stored value that is not a SHA-256 hex matches nothing', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (secret, other) => {
        const stored = hashSecret(secret);
        assert.equal(matchesDigest(secret, stored), true);
        assert.equal(matchesDigest(other, stored), other === secret);
      }),
    );
    const secret = mintSecret('clientSecret');
    for (const malformed of ['', 'abc', hashSecret(secret).slice(2), `${hashSecret(secret)}00`, 'z'.repeat(64)]) {
      assert.equal(matchesDigest(secret, malformed), false, malformed);
    }
    // The compare reads every character: a digest differing in any one place is refused.
    const stored = hashSecret(secret);
    for (let i = 0; i < stored.length; i += 1) {
      const changed = `${stored.slice(0, i)}${stored[i] === '0' ? '1' : '0'}${stored.slice(i + 1)}`;
      assert.equal(matchesDigest(secret, changed), false, `differs at ${i}`);
    }
  });

  test('two secrets are the same exactly when they are equal, whatever their lengths', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => assert.equal(sameSecret(a, b), a === b)));
    assert.equal(sameSecret('operator-token', 'operator-token'), true);
    assert.equal(sameSecret('operator-token', 'operator-token '), false);
  });
});
