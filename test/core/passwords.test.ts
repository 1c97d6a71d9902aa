import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { RateLimited } from '../../src/core/errors.js';
import { HASHING_NICENESS } from '../../src/core/hashing-thread.js';
import { HASH_BATCH, PasswordHasher } from '../../src/core/passwords.js';

/** The niceness of each thread of this process, from /proc (Linux). */
function threadNiceness(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('password hashing', () => {
  const hasher = new PasswordHasher({ concurrency: 2, queue: 4 });

  test('argon2id with at least OWASP parameters; the right password verifies, a wrong one and a broken hash do not', async () => {
    const stored = await hasher.hash('correct horse 😀 battery');
    assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await hasher.verify(stored, 'correct horse 😀 battery'), true);
    assert.equal(await hasher.verify(stored, 'correct horse 😀 batter'), false);
    assert.equal(await hasher.verify('$argon2id$not-a-hash', 'anything'), false);
    assert.equal(await hasher.verifyNobody('anything'), false);
  });

  test('beyond the concurrency and the queue, a hash is refused with 429, never queued without bound', async () => {
    const stored = await hasher.hash('p');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => hasher.verify(stored, 'p')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 6, '2 running + 4 queued');
    for (const r of results.filter((r) => r.status === 'rejected')) assert.ok((r as PromiseRejectedResult).reason instanceof RateLimited);
  });

  test('a thread takes queued hashes in batches and answers each its own, a broken hash failing only itself', async () => {
    const one = new PasswordHasher({ concurrency: 1, queue: 16 });
    const stored = await one.hash('right');
    const other = await one.hash('other');
    // One thread: the first runs alone, the next HASH_BATCH wait and go together, then the rest.
    const cases = [
      [stored, 'right', true],
      [stored, 'wrong', false],
      [other, 'other', true],
      ['$argon2id$broken', 'right', false],
      [other, 'right', false],
      [stored, 'right', true],
      [other, 'other', true],
      [stored, 'other', false],
    ] as const;
    assert.ok(cases.length > 1 + HASH_BATCH, 'more than one batch');
    const answers = await Promise.all(cases.map(([hash, password]) => one.verify(hash, password)));
    assert.deepEqual(answers, cases.map(([, , expected]) => expected));
    const fresh = await Promise.all(['a', 'b', 'c'].map((password) => one.hash(password)));
    assert.equal(new Set(fresh).size, 3);
    assert.deepEqual(await Promise.all(fresh.map((hash, i) => one.verify(hash, 'abc'[i]!))), [true, true, true]);
  });

  test('batches count against the bound: concurrency + queue hashes are taken in, the rest refused', async () => {
    const one = new PasswordHasher({ concurrency: 1, queue: 6 });
    const stored = await one.hash('p');
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => one.verify(stored, 'p')));
    assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value === true).length, 7, '1 running + 6 queued');
    for (const r of results.filter((r) => r.status === 'rejected')) assert.ok((r as PromiseRejectedResult).reason instanceof RateLimited);
    assert.equal(await one.verify(stored, 'p'), true, 'the bound frees up once they are done');
  });

  test('an unknown user refused while the hasher is full is not refused forever', async () => {
    const one = new PasswordHasher({ concurrency: 1, queue: 0 });
    const busy = one.hash('p');
    await assert.rejects(one.verifyNobody('x'), RateLimited);
    await busy;
    assert.equal(await one.verifyNobody('x'), false);
  });

  test('hashes run on threads below the event loop in priority, so logins cannot starve verification', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
    const stored = await hasher.hash('p');
    const during = hasher.verify(stored, 'p');
    const niceness = threadNiceness();
    await during;
    assert.equal(niceness[0], 0, 'the main thread keeps its priority');
    assert.ok(niceness.includes(HASHING_NICENESS), `no thread at niceness ${HASHING_NICENESS}: ${niceness.join(' ')}`);
  });
});
