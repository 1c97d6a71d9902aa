import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import { deeplinkFor } from '../../core/apps.js';
import type { Core } from '../../core/context.js';
import { InvalidRequest, TokendError } from '../../core/errors.js';
import type { Minted } from '../../core/issuance.js';
import { checkInstallId, issueInstallToken } from '../../core/install-tokens.js';
import { mintTokenSecret } from '../../core/tokens.js';
import { requireUser } from '../auth.js';
import { useErrorShape } from '../errors.js';
import { Detail, detailError, isoSeconds } from './common.js';


/** DRF's PermissionDenied: the caller is known, but its token cannot act for the app it named. */
class PermissionDenied extends TokendError {
  constructor(description: string) {
    super('permission_denied', 403, description);
  }
}

/** An install token as seed 002 shows it; the CLI prints the same fields. */
export interface InstallTokenView {
  token: string;
  installid: string;
  expires_at: string;
  expires_in: number;
  deeplink: string;
}

export function installTokenView(minted: Minted, deeplink: string): InstallTokenView {
  const { record } = minted;
  const expiresAt = record.expiresAt ?? record.createdAt;
  return {
    token: minted.secret,
    installid: record.installId ?? '',
    expires_at: isoSeconds(expiresAt),
    expires_in: Math.round((expiresAt - record.createdAt) / 1000),
    deeplink,
  };
}

/**
 * A QR code holds at most ~3 KB, and a deep link template has no length limit:
 * check with a stand-in token of the real length before one is issued, so an
 * unfit template never leaves a stored token nobody received.
 */
function checkQrFits(deeplink: string): void {
  try {
    QRCode.create(deeplink);
  } catch {
    throw new InvalidRequest("this app's deep link is too long for a QR code; ask without qr");
  }
}


/* Every parameter is optional here and checked in the handler, after the caller is authenticated (as DRF does). */
const Query = Type.Object({
  app_key: Type.Optional(Type.String({ description: "the client_id of the calling token's app" })),
  installid: Type.Optional(Type.String({ description: 'the device install the token is bound to (1–200 printable characters)' })),
  qr: Type.Optional(Type.String({ description: '`svg` adds `qr_svg`, a QR code of the deep link' })),
});

const InstallToken = Type.Object({
  token: Type.String(),
  installid: Type.String(),
  expires_at: Type.String({ description: 'ISO 8601, UTC' }),
  expires_in: Type.Integer(),
  deeplink: Type.String(),
  qr_svg: Type.Optional(Type.String()),
});

/**
 * Seed 002 (SPEC §5.3): a user's token for an app (access or API token,
 * `Bearer` or `Token`) buys a one-hour install token bound to one install id,
 * handed to the device by deep link or QR code. The install token is a child
 * of the token that asked for it, so revoking that one (or its session)
 * revokes it too.
 */
export async function installTokenDialect(app: FastifyInstance, { core }: { core: Core }): Promise<void> {
  useErrorShape(app, detailError);

  app.get(
    '/v3/users/token',
    {
      schema: {
        tags: ['Seed 002: install tokens'],
        summary: 'A one-hour install token for one device install, with its deep link (and a QR code with qr=svg)',
        security: [{ bearer: [] }],
        querystring: Query,
        response: { 200: InstallToken, 400: Detail, 401: Detail, 403: Detail, 503: Detail },
      },
    },
    async (request, reply) => {
      // Header only: an install token, a token in the URL, a refresh or service token never mints one.
      const caller = await requireUser(core, request);
      const query = request.query as { app_key?: string; installid?: string; qr?: string };
      if (query.app_key === undefined || query.app_key === '') throw new InvalidRequest('app_key is required');
      const installId = checkInstallId(query.installid);
      if (query.qr !== undefined && query.qr !== 'svg') throw new InvalidRequest('qr must be svg');
      if (query.app_key !== caller.app.clientId) throw new PermissionDenied('this token does not belong to the app app_key names');
      if (query.qr === 'svg') checkQrFits(deeplinkFor(caller.app, mintTokenSecret('install', core.clock.now())));

      const { minted, deeplink } = await issueInstallToken(core, {
        app: caller.app,
        installId,
        userId: caller.user.id,
        parentId: caller.token.id,
        scopes: caller.token.scopes,
        actor: `user:${caller.user.id}`,
        ip: request.ip,
      });
      const view = installTokenView(minted, deeplink);
      const qr = query.qr === 'svg' ? { qr_svg: await QRCode.toString(deeplink, { type: 'svg' }) } : {};
      return reply.header('cache-control', 'no-store').send({ ...view, ...qr });
    },
  );
}
