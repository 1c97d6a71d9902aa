import { randomUUID } from 'node:crypto';
import type { Actor, Core } from './context.js';
import { Conflict, InvalidRequest, LoginFailed, NotFound, RateLimited } from './errors.js';
import type { App, User } from './model.js';

/** Usernames compare case-insensitively after Unicode NFC (SPEC §2). */
export function usernameKey(username: string): string {
  return username.normalize('NFC').toLowerCase().normalize('NFC');
}

export function checkUsername(username: string): string {
  const trimmed = username.normalize('NFC');
  // A lone surrogate is not text: the store would turn it into U+FFFD, so two different names would collide.
  if (trimmed.length === 0 || trimmed.length > 200 || /[\u0000-\u001f\u007f]|\p{Cs}/u.test(trimmed)) {
    throw new InvalidRequest('username must be 1 to 200 characters of well-formed Unicode, without control characters');
  }
  return trimmed;
}

export async function createUser(core: Core, input: { username: string; password: string }, actor: Actor): Promise<User> {
  const username = checkUsername(input.username);
  if (input.password.length === 0) throw new InvalidRequest('password must not be empty');
  const now = core.clock.now();
  const user = await core.store.insertUser({
    userProfileId: randomUUID(),
    username,
    usernameKey: usernameKey(username),
    passwordHash: await core.hasher.hash(input.password),
    disabled: false,
    createdAt: now,
    updatedAt: now,
  });
  if (user === null) throw new Conflict('that username is taken');
  await core.audit.record('admin.user.created', actor, { userId: user.id });
  return user;
}

export async function setUserDisabled(core: Core, id: number, disabled: boolean, actor: Actor): Promise<User> {
  const user = await core.store.setUserDisabled(id, disabled, core.clock.now());
  if (user === null) throw new NotFound('user');
  await core.audit.record(disabled ? 'admin.user.disabled' : 'admin.user.enabled', actor, { userId: id });
  return user;
}

/** A new password ends every other session of the user (SPEC §9). */
export async function changePassword(
  core: Core,
  id: number,
  password: string,
  actor: Actor,
  keepSessionId: string | null = null,
): Promise<User> {
  if (password.length === 0) throw new InvalidRequest('password must not be empty');
  const passwordHash = await core.hasher.hash(password);
  const user = await core.store.setUserPassword(id, passwordHash, core.clock.now(), keepSessionId);
  if (user === null) throw new NotFound('user');
  await core.audit.record('admin.user.password_changed', actor, { userId: id });
  return user;
}

export async function deleteUser(core: Core, id: number, actor: Actor): Promise<void> {
  if (!(await core.store.deleteUser(id, core.clock.now()))) throw new NotFound('user');
  await core.audit.record('admin.user.deleted', actor, { userId: id });
}

/**
 * Checks a username and password. Unknown user, disabled user and wrong
 * password spend the same argon2id work and raise the same error; the limits
 * per username and per client IP are checked before any hashing.
 */
export async function authenticateUser(
  core: Core,
  input: { app: App; username: string; password: string; ip: string | null; gone?: () => boolean },
): Promise<User> {
  const { perUser, perIp, windowSeconds } = core.settings.loginLimits;
  const key = usernameKey(input.username);
  const userLimit = `login:user:${key}`;
  const ipLimit = input.ip === null ? null : `login:ip:${input.ip}`;
  const limits = [{ key: userLimit, limit: perUser }, ...(ipLimit === null ? [] : [{ key: ipLimit, limit: perIp }])];
  // Each attempt is counted as a failure before the slow hash, and given back
  // if it was not one: counting only after the hash would let a burst of
  // parallel guesses all pass the check (SPEC §9).
  const wait = await core.limiter.take(limits, windowSeconds);
  if (wait > 0) {
    await core.audit.record('login.rate_limited', 'anonymous', { appId: input.app.id, ip: input.ip, detail: { username: input.username.slice(0, 200) } });
    throw new RateLimited(wait);
  }

  let user: User | null;
  let ok: boolean;
  try {
    user = await core.store.findUserByUsernameKey(key);
    ok = user === null ? await core.hasher.verifyNobody(input.password, input.gone) : await core.hasher.verify(user.passwordHash, input.password, input.gone);
  } catch (error) {
    // Not a guess: a password over the length limit, a full hashing queue, a client gone before its hash, a store error.
    await core.limiter.release(limits.map((limit) => limit.key));
    throw error;
  }
  if (ok && user !== null && !user.disabled) {
    await core.limiter.release(ipLimit === null ? [] : [ipLimit], [userLimit]);
    return user;
  }
  const reason = user === null ? 'unknown_user' : ok ? 'disabled' : 'wrong_password';
  await core.audit.record('login.failed', 'anonymous', {
    appId: input.app.id,
    userId: user?.id ?? null,
    ip: input.ip,
    detail: { username: input.username.slice(0, 200), reason },
  });
  throw new LoginFailed(reason);
}
