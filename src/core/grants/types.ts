import type { Core } from '../context.js';
import type { TokenSet } from '../issuance.js';
import type { App } from '../model.js';

/** What every grant receives: the authenticated client, the request's parameters and where it came from. */
export interface GrantRequest {
  app: App;
  params: Readonly<Record<string, string | undefined>>;
  ip: string | null;
  userAgent: string | null;
  /** Whether the client has hung up (see PasswordLogin.gone). */
  gone?: () => boolean;
}

export type Grant = (core: Core, request: GrantRequest) => Promise<TokenSet>;
