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
 * of its turn's work.
 */

let writes: (() => void)[] = [];
let scheduled = false;

function writeOut(): void {
  scheduled = false;
  const due = writes;
  writes = [];
  for (const write of due) write();
}

/** Runs `write` at the end of this turn, with the turn's other answers; `write` must not throw (a throw would strand the writes after it). */
export function atTurnEnd(write: () => void): void {
  writes.push(write);
  if (!scheduled) {
    scheduled = true;
    setImmediate(writeOut);
  }
}

/**
 * Runs `work` at the end of this turn (a grouped commit), with the answers
 * around it written out: those already waiting go first, so that a commit
 * (or a checkpoint in it) never holds back answers it has no part in; those
 * that `work` settles go in the same turn, not the next. They are written by
 * the promise reactions that follow `work`, in the check phase, where an
 * immediate they queued would wait for the next turn's I/O; so that write-out
 * is queued now, behind `work`.
 */
export function settleAtTurnEnd(work: () => void): void {
  setImmediate(() => {
    writeOut();
    work();
  });
  scheduled = true;
  setImmediate(writeOut);
}
