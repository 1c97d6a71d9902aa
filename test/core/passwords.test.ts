import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { RateLimited } from '../../src/core/errors.js';
import { HASHING_NICENESS } from '../../src/core/hashing-thread.js';
import { PasswordHasher } from '../../src/core/passwords.js';

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

  test('hashes run on threads below the event loop in priority, so logins cannot starve verification', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
    const stored = await hasher.hash('p');
    const during = hasher.verify(stored, 'p');
    const niceness = threadNiceness();
    await during;
    assert.equal(niceness[0], 0, 'the main thread keeps its priority');
    assert.ok(niceness.includes(HASHING_NICENESS), `no thread at niceness ${HASHING_NICENESS}: ${niceness.join(' ')}`);
  });
});
