import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MOST_HELD, atTurnEnd, settleAtTurnEnd } from '../../src/core/turn-end.js';

/*
 * Answers written at the end of the event loop's turn: after all of the turn's
 * callbacks, in the order they were queued, and in the same turn as the work
 * that settled them.
 */

test("a turn's writes wait for all of its callbacks, then run in order", async () => {
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    // Two timers due at once fire in one turn, as two requests read in one turn do.
    setTimeout(() => {
      atTurnEnd(() => seen.push('write 1'));
      seen.push('callback 1');
    }, 1);
    setTimeout(() => {
      atTurnEnd(() => seen.push('write 2'));
      atTurnEnd(resolve);
      seen.push('callback 2');
    }, 1);
  });
  assert.deepEqual(seen, ['callback 1', 'callback 2', 'write 1', 'write 2']);
});

test('the answers that turn-end work settles are written in that turn, not the next', async () => {
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    setTimeout(() => {
      let settle!: () => void;
      void new Promise<void>((r) => (settle = r)).then(() => atTurnEnd(() => seen.push('written')));
      settleAtTurnEnd(() => {
        // An immediate queued by turn-end work runs in the next turn.
        setImmediate(() => {
          seen.push('next turn');
          resolve();
        });
        settle();
      });
    }, 1);
  });
  assert.deepEqual(seen, ['written', 'next turn']);
});

test('a write queued while the turn-end writes run goes out too', async () => {
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    atTurnEnd(() => {
      seen.push('first');
      atTurnEnd(() => {
        seen.push('queued by the first');
        resolve();
      });
    });
  });
  assert.deepEqual(seen, ['first', 'queued by the first']);
});

test('answers waiting when turn-end work begins are written before it, not held behind it', async () => {
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    setTimeout(() => {
      // A commit queued first in the turn, then an answer that has no part in it.
      settleAtTurnEnd(() => {
        seen.push('commit');
        resolve();
      });
      atTurnEnd(() => seen.push('answer'));
    }, 1);
  });
  assert.deepEqual(seen, ['answer', 'commit']);
});

test(`a turn holds at most ${MOST_HELD} answers: the last of them takes them all out at once`, async () => {
  const seen: number[] = [];
  await new Promise<void>((resolve) => {
    setTimeout(() => {
      for (let i = 0; i < MOST_HELD + 5; i++) {
        atTurnEnd(() => seen.push(i));
        if (i === MOST_HELD - 2) assert.equal(seen.length, 0, 'held until the bound');
        if (i === MOST_HELD - 1) assert.deepEqual(seen, Array.from({ length: MOST_HELD }, (_, j) => j), 'out at the bound, in order');
      }
      atTurnEnd(resolve);
    }, 1);
  });
  assert.deepEqual(seen, Array.from({ length: MOST_HELD + 5 }, (_, j) => j));
});
