/**
 * The end of the event loop's turn: Node's check phase, which runs once the
 * turn's I/O callbacks are done (every request read in the turn, every answer
 * of Postgres or Redis). Grouped commits run there, and answers are written
 * there, all of a turn's together.
 *
 * Writing a turn's answers together is what Redis does with its replies
 * before it waits for I/O again. An answer written the moment it is ready
 * must often wake its reader, which has gone to sleep waiting (a proxy, a
 * client on the same host); on a virtual machine that wake-up costs the
 * writer tens of microseconds. Written together, the first answer wakes the
 * reader and the others find it awake. An answer waits at most for the rest
 * of its turn's work, and for no more than 31 other answers.
 */

let writes: (() => void)[] = [];
let scheduled = false;
/**
 * Answers held at most: the 32nd goes out with those before it at once. With
 * every answer of a turn of 256 connections held to its end, `/v1/me` cost
 * 20.6–30.4 CPU µs a request, against 17.8–18.6 with this bound; at 32
 * connections the bound changes nothing.
 */
export const MOST_HELD = 32;
/** While a grouped commit's callers settle: its answers go out as they come, already together. */
let settling = false;

function writeOut(): void {
  const due = writes;
  writes = [];
  for (const write of due) write();
}

function writeOutAtTurnEnd(): void {
  scheduled = false;
  writeOut();
}

/**
 * Runs `write` at the end of this turn, with the turn's other answers, or at
 * once with the 31 held before it. `write` must not throw: a throw would
 * strand the writes after it.
 */
export function atTurnEnd(write: () => void): void {
  if (settling) return write();
  if (writes.push(write) >= MOST_HELD) return writeOut();
  if (!scheduled) {
    scheduled = true;
    setImmediate(writeOutAtTurnEnd);
  }
}

/**
 * Runs `work` at the end of this turn (a grouped commit). The answers already
 * waiting go out first, so that a commit (or a checkpoint in it) never holds
 * back answers it has no part in. The answers `work` settles are written as
 * they come: they come together anyway, in the promise reactions that follow
 * `work`, and an immediate they queued there would wait for the next turn's
 * I/O. Those reactions end before the next immediate, queued right behind
 * `work`, which ends that.
 */
export function settleAtTurnEnd(work: () => void): void {
  setImmediate(() => {
    writeOut();
    settling = true;
    work();
  });
  setImmediate(() => {
    settling = false;
  });
}
