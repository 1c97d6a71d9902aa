import type {
  App,
  AuditEvent,
  MasterKey,
  NewAuditEvent,
  OperatorToken,
  Session,
  SigningKey,
  Token,
  User,
} from '../core/model.js';
import type { TokenKind } from '../core/tokens.js';

/** Last-use times (ms) by id. */
export interface Usage {
  tokens: ReadonlyMap<string, number>;
  sessions: ReadonlyMap<string, number>;
  masterKeys: ReadonlyMap<string, number>;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor: string | null;
}

export interface TokenFilter {
  userId?: number;
  appId?: string;
  kind?: TokenKind;
  /** Only tokens neither revoked nor expired at this time. */
  activeAt?: number;
}

export interface AuditFilter {
  action?: string;
  appId?: string;
  userId?: number;
  since?: number;
}

/** `usernameKey` is the username as compared: NFC, lower case. */
export type NewUser = Omit<User, 'id'> & { usernameKey: string };

export type AppPatch = Partial<Omit<App, 'id' | 'clientId' | 'createdAt' | 'deletedAt'>> & { updatedAt: number };

/** The outcome of a conditional refresh-token rotation. */
export type RotationResult =
  | { outcome: 'rotated' }
  /** Someone else rotated (or revoked, or it expired) first; `token` is the row as it is now, if it exists. */
  | { outcome: 'lost'; token: Token | null };

export interface Rotation {
  /** The spent refresh token's store key, as found (`Token.hash`). */
  hash: string;
  appId: string;
  now: number;
  successorId: string;
  successorSealed: string | null;
  /** The new access and refresh token rows, inserted in the same transaction. */
  successors: Token[];
  /** The rotation's audit row, written with it: only the winner's is. */
  audit?: NewAuditEvent;
}

/** One batch of the expired-token sweep. */
export interface ExpiredTokenSweep {
  /** Only tokens that expired before this time (ms) go. */
  before: number;
  /** At most this many token rows. */
  batchSize: number;
}

/** What one batch of the sweep deleted. */
export interface SweptRows {
  tokens: number;
  sessions: number;
}

/**
 * The store speaks in domain verbs, not CRUD: every method is one unit of work
 * that either happens whole or not at all. One Kysely implementation serves
 * SQLite and Postgres.
 */
export interface Store extends StoreLifecycle, AppStore, UserStore, TokenStore, KeyStore, AuditStore {}

export interface StoreLifecycle {
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Apps (OAuth clients) and their token policy. */
export interface AppStore {
  insertApp(app: App): Promise<void>;
  findAppById(id: string): Promise<App | null>;
  findAppByClientId(clientId: string): Promise<App | null>;
  /** The oldest live app with this name. */
  findAppByName(name: string): Promise<App | null>;
  /** The live app whose client secret hashes to this (a leaked-secret report). */
  findAppByClientSecretHash(hash: string): Promise<App | null>;
  listApps(page: PageRequest): Promise<Page<App>>;
  countApps(): Promise<number>;
  updateApp(id: string, patch: AppPatch): Promise<App | null>;
  /** Marks the app deleted and revokes its sessions, tokens and master keys. */
  deleteApp(id: string, at: number): Promise<boolean>;
}

/** Users and what happens to their tokens when they change. */
export interface UserStore {
  /** Null when the username (compared by its key) is taken. */
  insertUser(user: NewUser): Promise<User | null>;
  findUserById(id: number): Promise<User | null>;
  findUserByUsernameKey(key: string): Promise<User | null>;
  listUsers(page: PageRequest): Promise<Page<User>>;
  /** Disabling revokes every session and token of the user in the same transaction. */
  setUserDisabled(id: number, disabled: boolean, at: number): Promise<User | null>;
  /** Changes the password hash and ends every session of the user except `keepSessionId`. */
  setUserPassword(id: number, passwordHash: string, at: number, keepSessionId: string | null): Promise<User | null>;
  /** Deletes the user and revokes everything it held. */
  deleteUser(id: number, at: number): Promise<boolean>;
}

/** Sessions and tokens: issuance, rotation, revocation trees, usage, cleanup. */
export interface TokenStore {
  /**
   * A new session with its first tokens, and the audit row of the login when
   * given: all of them or none. (Postgres writes them in one statement.)
   */
  insertSession(session: Session, tokens: Token[], audit?: NewAuditEvent): Promise<void>;
  findSession(id: string): Promise<Session | null>;
  listSessionsForUser(userId: number, page: PageRequest): Promise<Page<Session>>;
  /** Revokes the session and every token it owns or minted. False if it was unknown or already revoked. */
  revokeSession(id: string, at: number): Promise<boolean>;

  /** New tokens, and the audit row of their issuance when given: all of them or none. */
  insertTokens(tokens: Token[], audit?: NewAuditEvent): Promise<void>;
  findTokenByHash(hash: string): Promise<Token | null>;
  findTokenById(id: string): Promise<Token | null>;
  listTokens(filter: TokenFilter, page: PageRequest): Promise<Page<Token>>;
  /** Revokes the token and every token it minted. */
  revokeToken(id: string, at: number): Promise<boolean>;
  /**
   * Single-use refresh rotation: one conditional UPDATE marks the token used only
   * if it is unused, unrevoked, unexpired and the app's, then inserts the
   * successors; all in one transaction. Of N concurrent calls exactly one rotates.
   */
  rotateRefreshToken(rotation: Rotation): Promise<RotationResult>;
  /** Batched, off the request path: last use of tokens, their sessions, and master keys. */
  recordUsage(usage: Usage): Promise<void>;
  /**
   * Deletes at most `batchSize` tokens that expired before `before`: never one
   * without expiry, nor one that minted a token still unexpired then (revoking
   * a parent reaches its children); then, in a second statement once those
   * are gone, the sessions they leave without any token. Safe on many nodes at
   * once: no row is deleted twice, no sweep waits on another.
   */
  deleteExpiredTokens(options: ExpiredTokenSweep): Promise<SweptRows>;
}

/** Master keys, operator tokens and JWT signing keys. */
export interface KeyStore {
  insertMasterKey(key: MasterKey): Promise<void>;
  findMasterKeyByHash(hash: string): Promise<MasterKey | null>;
  findMasterKeyById(id: string): Promise<MasterKey | null>;
  listMasterKeys(appId: string, page: PageRequest): Promise<Page<MasterKey>>;
  /** Revokes the master key and every service token it minted. */
  revokeMasterKey(id: string, at: number): Promise<boolean>;

  insertOperatorToken(token: OperatorToken): Promise<void>;
  findOperatorTokenByHash(hash: string): Promise<OperatorToken | null>;

  listSigningKeys(): Promise<SigningKey[]>;
  insertSigningKey(key: SigningKey): Promise<void>;
  /**
   * Promotes `next` to current, retires the previous current key (published until
   * `publishedUntil`), withdraws any other never-used next key, and adds
   * `newNext` as the pre-published next key.
   */
  rotateSigningKeys(options: { at: number; promote: string; newNext: SigningKey; publishedUntil: number }): Promise<void>;
}

/** The audit trail. */
export interface AuditStore {
  appendAudit(event: NewAuditEvent): Promise<void>;
  listAudit(filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>>;
}
