/** Token kinds tokend issues; `refresh` never authorizes a request. */
export type TokenKind = 'access' | 'refresh' | 'service' | 'install' | 'api';

/** Who a verified token speaks for. */
export interface TokenIdentity {
  kind: TokenKind;
  /** The app (`client_id`) the token belongs to. */
  clientId: string;
  /** tokend's `user_id` as a string, or null for a token of the app alone (service, client_credentials). */
  userId: string | null;
  scopes: string[];
  /** The token's public id (`jti`). */
  tokenId: string;
  sessionId: string | null;
  installId: string | null;
  /** ms since the epoch; null for an API token without expiry. */
  expiresAt: number | null;
  /** How this answer was reached: the JWT's signature inside a vouched epoch, or tokend's introspection. */
  checkedBy: 'jwt' | 'introspection';
}
