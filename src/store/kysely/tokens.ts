import { CompiledQuery, PostgresAdapter, sql, type Kysely, type Selectable } from 'kysely';
import type { NewAuditEvent, Session, Token } from '../../core/model.js';
import { after, decodeCursor, toPage } from '../pagination.js';
import { fromSessionRow, fromTokenRow, toAuditRow, toSessionRow, toTokenRow, type AuditEventsTable, type Database, type SessionsTable, type TokensTable } from '../schema.js';
import { executePrepared } from './prepared.js';
import { revokeSessionTokens } from './revoke.js';
import type { ExpiredTokenSweep, Page, PageRequest, Rotation, RotationResult, SweptRows, TokenFilter, TokenStore, Usage } from '../store.js';

/**
 * Issuance's rows — a login's session, the tokens, the audit row — all or
 * none, as one statement: the first inserts are data-modifying CTEs. Each
 * round trip to Postgres cost tokend about 90 CPU µs, mostly the kernel's,
 * and a client_credentials token with its audit row took two. Postgres only:
 * SQLite has no INSERT in a CTE, and its grouped commits write these rows
 * with prepared statements instead (src/store/group-commit.ts). The text is
 * written once per shape (issuedText), as rotation's is.
 */
export async function insertIssued(db: Kysely<Database>, rows: { sessions: Session[]; tokens: Token[]; audits: NewAuditEvent[] }, prepare = true): Promise<void> {
  const inserts: Array<{ table: string; columns: readonly string[]; rows: Record<string, unknown>[] }> = [];
  if (rows.sessions.length > 0) inserts.push({ table: 'sessions', columns: SESSION_COLUMNS, rows: rows.sessions.map(toSessionRow) as unknown as Record<string, unknown>[] });
  if (rows.tokens.length > 0) inserts.push({ table: 'tokens', columns: TOKEN_COLUMNS, rows: rows.tokens.map(toTokenRow) as unknown as Record<string, unknown>[] });
  if (rows.audits.length > 0) inserts.push({ table: 'audit_events', columns: AUDIT_COLUMNS, rows: rows.audits.map(toAuditRow) });
  if (inserts.length === 0) return;
  const parameters: unknown[] = [];
  for (const insert of inserts) for (const row of insert.rows) for (const column of insert.columns) parameters.push(row[column]);
  const compiled = CompiledQuery.raw(issuedText(inserts.map((insert) => ({ ...insert, count: insert.rows.length }))), parameters);
  await (prepare ? executePrepared(db, compiled) : db.executeQuery(compiled));
}

const issuedTexts = new Map<string, string>();

/** insertIssued's statement for its tables and row counts, parameters numbered in row order. */
function issuedText(inserts: Array<{ table: string; columns: readonly string[]; count: number }>): string {
  const shape = inserts.map(({ table, count }) => `${table}:${count}`).join(',');
  let text = issuedTexts.get(shape);
  if (text !== undefined) return text;
  let n = 0;
  const statements = inserts.map(({ table, columns, count }) => {
    const rows = Array.from({ length: count }, () => `(${columns.map(() => `$${(n += 1)}`).join(', ')})`);
    return `insert into "${table}" (${columns.map(quoted).join(', ')}) values ${rows.join(', ')}`;
  });
  const last = statements.pop()!;
  text = statements.length === 0 ? last : `with ${statements.map((statement, i) => `"issued_${i}" as (${statement})`).join(', ')} ${last}`;
  // Groups come in many sizes: keep the common ones, small (a text of 100 rows is ~15 KB), and not all.
  if (n <= KEPT_TEXT_PARAMETERS) {
    if (issuedTexts.size >= 256) issuedTexts.clear();
    issuedTexts.set(shape, text);
  }
  return text;
}

const KEPT_TEXT_PARAMETERS = 2_000;

/** The most parameters one Postgres statement may bind (the protocol counts them in 16 bits). */
export const MOST_PARAMETERS = 65_535;

const SESSION_COLUMNS = Object.keys({
  id: 1, user_id: 1, app_id: 1, device_info: 1, ip: 1, user_agent: 1, created_at: 1, last_used_at: 1, revoked_at: 1,
} satisfies Record<keyof SessionsTable, 1>) as (keyof SessionsTable)[];

/** Postgres types of the token columns: parameters in a VALUES list carry no type of their own. */
const TOKEN_COLUMN_TYPES: Record<keyof TokensTable, 'text' | 'bigint'> = {
  id: 'text', hash: 'text', kind: 'text', format: 'text', app_id: 'text', user_id: 'bigint', session_id: 'text',
  parent_id: 'text', master_key_id: 'text', install_id: 'text', name: 'text', scopes: 'text', created_at: 'bigint',
  expires_at: 'bigint', revoked_at: 'bigint', last_used_at: 'bigint', used_at: 'bigint', successor_id: 'text', successor_sealed: 'text',
};
const TOKEN_COLUMNS = Object.keys(TOKEN_COLUMN_TYPES) as (keyof TokensTable)[];

/** Postgres types of the audit columns a write gives (the id is the table's own). */
const AUDIT_COLUMN_TYPES: Record<Exclude<keyof AuditEventsTable, 'id'>, 'text' | 'bigint'> = {
  at: 'bigint', action: 'text', actor: 'text', app_id: 'text', user_id: 'bigint', session_id: 'text', token_id: 'text', ip: 'text', detail: 'text',
};
const AUDIT_COLUMNS = Object.keys(AUDIT_COLUMN_TYPES) as (keyof typeof AUDIT_COLUMN_TYPES)[];

/** How many parameters insertIssued binds for a session, a token and an audit row. */
export const ISSUED_PARAMETERS = { session: SESSION_COLUMNS.length, token: TOKEN_COLUMNS.length, audit: AUDIT_COLUMNS.length };

/**
 * Rotation's writes as one statement: spends the refresh token and, only if
 * that UPDATE found it unspent, inserts its successors, touches the session
 * and writes the audit row. False when another caller spent it first: a
 * concurrent rotation's UPDATE waits for this one's row lock, then finds
 * used_at set. One round trip instead of a transaction's five. Postgres only,
 * like insertIssued.
 *
 * The row is found by its unique hash alone. app_id and kind are compared
 * with IS NOT DISTINCT FROM (the same for these NOT NULL columns), which no
 * index serves: with plain equalities, a table Postgres had not analyzed yet
 * got the (app_id, kind) index instead, and every rotation read through all
 * of the app's refresh tokens (5,466 index entries a rotation in the
 * benchmark; 1.1 ms of Postgres CPU).
 *
 * The text depends only on how many successors there are and whether an
 * audit row comes along, so it is written once per shape (rotationText) and
 * each rotation only lists its parameters: built with Kysely's sql tag, two
 * token rows and an audit row were ~60 frozen nodes compiled per call, about
 * a fifth of tokend's CPU a rotation.
 */
async function consumeRefreshToken(db: Kysely<Database>, rotation: Rotation): Promise<boolean> {
  const { now } = rotation;
  const parameters: unknown[] = [now, rotation.successorId, rotation.successorSealed, rotation.hash, now, rotation.appId];
  for (const row of rotation.successors.map(toTokenRow)) for (const column of TOKEN_COLUMNS) parameters.push(row[column]);
  parameters.push(now);
  if (rotation.audit !== undefined) {
    const row = toAuditRow(rotation.audit);
    for (const column of AUDIT_COLUMNS) parameters.push(row[column]);
  }
  const text = rotationText(rotation.successors.length, rotation.audit !== undefined);
  const { rows } = await executePrepared(db, CompiledQuery.raw(text, parameters) as CompiledQuery<{ consumed: number }>);
  return rows[0]!.consumed === 1;
}

const rotationTexts = new Map<string, string>();

/**
 * consumeRefreshToken's statement for a shape. Each placeholder takes the next
 * number as the text is written, top to bottom (the spend, the successors'
 * rows, the session's touch, the audit row), which is the order
 * consumeRefreshToken lists the parameters in.
 */
function rotationText(successors: number, audited: boolean): string {
  const shape = `${successors}:${audited}`;
  let text = rotationTexts.get(shape);
  if (text !== undefined) return text;
  let n = 0;
  const next = () => `$${(n += 1)}`;
  const typed = (types: Record<string, string>, columns: readonly string[]) => columns.map((c) => `cast(${next()} as ${types[c]})`).join(', ');
  const consumed = `update tokens set used_at = ${next()}, successor_id = ${next()}, successor_sealed = ${next()}
      where hash = ${next()} and used_at is null and revoked_at is null and expires_at > ${next()}
        and app_id is not distinct from ${next()} and kind is not distinct from 'refresh'
      returning session_id`;
  const rows = Array.from({ length: successors }, () => `(${typed(TOKEN_COLUMN_TYPES, TOKEN_COLUMNS)})`).join(', ');
  const touched = `update sessions set last_used_at = ${next()} where id = (select session_id from consumed)`;
  const audit = audited
    ? `, audited as (
      insert into audit_events (${AUDIT_COLUMNS.map(quoted).join(', ')})
      select ${typed(AUDIT_COLUMN_TYPES, AUDIT_COLUMNS)} where exists (select 1 from consumed)
    )`
    : '';
  text = `
    with consumed as (
      ${consumed}
    ), successors as (
      insert into tokens (${TOKEN_COLUMNS.map(quoted).join(', ')})
      select * from (values ${rows}) as successor where exists (select 1 from consumed)
    ), touched as (
      ${touched}
    )${audit}
    select count(*)::int as consumed from consumed`;
  rotationTexts.set(shape, text);
  return text;
}

/** A column name as Kysely writes one for Postgres. */
const quoted = (column: string): string => `"${column}"`;

/** What a rotation answers once `consumeRefreshToken` has run: a loser is told the token as it now stands. */
export async function rotationResult(find: (hash: string) => Promise<Token | null>, rotation: Rotation, consumed: boolean): Promise<RotationResult> {
  return consumed ? { outcome: 'rotated' } : { outcome: 'lost', token: await find(rotation.hash) };
}

/**
 * The hottest read (every cache miss, every rotation): prepared, so it names
 * its columns rather than `*`. Its text is compiled once per store: building
 * the query with nineteen columns cost more than running it on SQLite.
 */
function tokenByHash(db: Kysely<Database>): (hash: string) => Promise<Token | null> {
  const text = db.selectFrom('tokens').select(TOKEN_COLUMNS).where('hash', '=', '').compile().sql;
  return async (hash) => {
    const { rows } = await executePrepared(db, CompiledQuery.raw(text, [hash]) as CompiledQuery<Selectable<TokensTable>>);
    return rows[0] === undefined ? null : fromTokenRow(rows[0]);
  };
}

/** Session and token verbs of the Kysely store: issuance, rotation, revocation trees, usage, sweeping. */
export function tokensVerbs(db: Kysely<Database>): TokenStore {
  const byHash = tokenByHash(db);
  return {
    // Sessions

    insertSession: (session: Session, tokens: Token[], audit?: NewAuditEvent) => insertIssued(db, { sessions: [session], tokens, audits: audit === undefined ? [] : [audit] }),

    async findSession(id: string): Promise<Session | null> {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromSessionRow(row);
    },

    async listSessionsForUser(userId: number, page: PageRequest): Promise<Page<Session>> {
      const position = decodeCursor(page.cursor);
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'desc', position!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit + 1)
        .execute();
      return toPage(rows, page, fromSessionRow, (r) => [Number(r.created_at), r.id]);
    },

    async revokeSession(id: string, at: number): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('sessions')
          .set({ revoked_at: at })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        await revokeSessionTokens(trx, [id], at);
        return Number(result.numUpdatedRows) > 0;
      });
    },

    // Tokens

    insertTokens: (tokens: Token[], audit?: NewAuditEvent) => insertIssued(db, { sessions: [], tokens, audits: audit === undefined ? [] : [audit] }),

    findTokenByHash: byHash,

    async findTokenById(id: string): Promise<Token | null> {
      const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : fromTokenRow(row);
    },

    async listTokens(filter: TokenFilter, page: PageRequest): Promise<Page<Token>> {
      const position = decodeCursor(page.cursor);
      const rows = await db
        .selectFrom('tokens')
        .selectAll()
        .$if(filter.userId !== undefined, (q) => q.where('user_id', '=', filter.userId!))
        .$if(filter.appId !== undefined, (q) => q.where('app_id', '=', filter.appId!))
        .$if(filter.kind !== undefined, (q) => q.where('kind', '=', filter.kind!))
        .$if(filter.activeAt !== undefined, (q) =>
          q
            .where('revoked_at', 'is', null)
            .where('used_at', 'is', null)
            .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', filter.activeAt!)])),
        )
        .$if(position !== null, (q) => q.where((eb) => after(eb, ['created_at', 'id'], 'desc', position!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit + 1)
        .execute();
      return toPage(rows, page, fromTokenRow, (r) => [Number(r.created_at), r.id]);
    },

    async revokeToken(id: string, at: number): Promise<boolean> {
      const result = await db
        .updateTable('tokens')
        .set({ revoked_at: at })
        .where((eb) => eb.or([eb('id', '=', id), eb('parent_id', '=', id)]))
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async rotateRefreshToken(rotation: Rotation): Promise<RotationResult> {
      return rotationResult(byHash, rotation, await consumeRefreshToken(db, rotation));
    },

    async recordUsage({ tokens, sessions, masterKeys }: Usage): Promise<void> {
      if (tokens.size === 0 && sessions.size === 0 && masterKeys.size === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const [table, times] of [['tokens', tokens], ['master_keys', masterKeys], ['sessions', sessions]] as const) {
          if (times.size > 0) await lastUsedUpdate(table, times).execute(trx);
        }
      });
    },

    async deleteExpiredTokens({ before, batchSize }: ExpiredTokenSweep): Promise<SweptRows> {
      // Postgres: SKIP LOCKED lets sweeps on many nodes take disjoint rows and never wait on
      // each other or on a request's lock, so they cannot deadlock. SQLite has one writer anyway.
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      const expired = db
        .selectFrom('tokens as t')
        .select('t.id')
        // `<` never matches NULL: an API token without expiry is never swept.
        .where('t.expires_at', '<', before)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('tokens as child')
                .select('child.id')
                .whereRef('child.parent_id', '=', 't.id')
                .where((c) => c.or([c('child.expires_at', 'is', null), c('child.expires_at', '>=', before)])),
            ),
          ),
        )
        .orderBy('t.expires_at')
        .limit(batchSize)
        .$if(postgres, (q) => q.forUpdate().skipLocked());
      const deleted = await db.deleteFrom('tokens').where('id', 'in', expired).returning('session_id').execute();
      const sessionIds = [...new Set(deleted.flatMap((row) => (row.session_id === null ? [] : [row.session_id])))];
      if (sessionIds.length === 0) return { tokens: deleted.length, sessions: 0 };
      // A session with no token left can never be used or refreshed again. A separate statement,
      // after the tokens' commit: two nodes sweeping one session's tokens at once each saw the
      // other's rows still there, but whichever checks last sees them gone.
      const emptied = db
        .selectFrom('sessions as s')
        .select('s.id')
        .where('s.id', 'in', sessionIds)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('tokens as t').select('t.id').whereRef('t.session_id', '=', 's.id'))))
        .$if(postgres, (q) => q.forUpdate().skipLocked());
      const sessions = await db.deleteFrom('sessions').where('id', 'in', emptied).executeTakeFirst();
      return { tokens: deleted.length, sessions: Number(sessions.numDeletedRows) };
    },
  };
}

/**
 * One table's last uses as one statement, on SQLite (3.33+) and Postgres
 * alike; each row only moves forward. A statement per row cost a round trip
 * per token on Postgres.
 */
function lastUsedUpdate(table: 'tokens' | 'master_keys' | 'sessions', times: ReadonlyMap<string, number>) {
  const rows = sql.join([...times].map(([id, at]) => sql`(${id}, cast(${at} as bigint))`));
  return sql`update ${sql.table(table)} as t set last_used_at = v.column2 from (values ${rows}) as v
    where t.id = v.column1 and (t.last_used_at is null or t.last_used_at < v.column2)`;
}
