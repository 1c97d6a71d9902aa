import { deeplinkFor } from './apps.js';
import type { Actor, Core } from './context.js';
import { InvalidRequest, InvalidToken } from './errors.js';
import { mintToken, type Minted } from './issuance.js';
import type { App, Token } from './model.js';

/**
 * SPEC §5.3: an install token is good only for its own install, named once by
 * the request's `installid`; every door that admits install tokens asks this.
 */
export function checkInstallBinding(token: Token, installIds: readonly string[]): void {
  if (installIds.length !== 1 || installIds[0] !== token.installId) throw new InvalidToken('this install token belongs to another install id');
}

/** Install ids are what a device calls itself: 1 to 200 printable characters. */
export function checkInstallId(installId: string | undefined): string {
  if (installId === undefined || installId.length === 0 || installId.length > 200 || !/^[\x21-\x7e]+$/.test(installId)) {
    throw new InvalidRequest('installid must be 1 to 200 printable characters without spaces');
  }
  return installId;
}

export interface InstallTokenRequest {
  app: App;
  installId: string;
  /** The user it acts for; null for an install token an operator made for the app alone. */
  userId: number | null;
  /** The token that asked for it: revoking that one (or its session) revokes this one too. */
  parentId: string | null;
  scopes: string[];
  actor: Actor;
  ip: string | null;
}

/**
 * A one-hour (by default) token bound to one install id (SPEC §5.3), handed
 * to the device by deep link, QR code or copy-paste.
 */
export async function issueInstallToken(core: Core, request: InstallTokenRequest): Promise<{ minted: Minted; deeplink: string }> {
  const installId = checkInstallId(request.installId);
  const minted = await mintToken(core, {
    kind: 'install',
    app: request.app,
    userId: request.userId,
    sessionId: null,
    scopes: request.scopes,
    ttlSeconds: request.app.installTokenTtl,
    installId,
    parentId: request.parentId,
  });
  await core.store.insertTokens(
    [minted.record],
    core.audit.announce('token.issued', request.actor, {
      appId: request.app.id,
      userId: request.userId,
      tokenId: minted.record.id,
      ip: request.ip,
      detail: { kind: 'install', install_id: installId },
    }),
  );
  return { minted, deeplink: deeplinkFor(request.app, minted.secret) };
}
