/**
 * Whether an error means "the store is not reachable right now" rather than a
 * bug or bad input: such requests answer 503 and the client may retry; the
 * pool reconnects by itself when the database is back (SPEC §10).
 */
const OUTAGE_CODES = new Set([
  // Node sockets
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  // Postgres SQLSTATE: connection exceptions, shutdown, too many connections, statement timeout
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300',
  '57P01',
  '57P02',
  '57P03',
  '57014',
  // SQLite
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_FULL',
]);

/** node-postgres reports pool and socket trouble in messages without a code. */
const OUTAGE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection is not open|Client was closed|Cannot use a pool after calling end/i;

export function isStoreOutage(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && OUTAGE_CODES.has(code)) return true;
  return typeof message === 'string' && OUTAGE_MESSAGES.test(message);
}
