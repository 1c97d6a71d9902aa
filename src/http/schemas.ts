import { Type, type Static, type TSchema } from '@sinclair/typebox';

/* Route schemas: they validate requests and are the source of /openapi.json. */

/**
 * A scalar or null, as `type: [type, 'null']` rather than `anyOf`: the answer's
 * serializer then checks a type, where `anyOf` made it run a schema validator
 * on every answer (a tenth of `GET /v1/me`'s CPU).
 */
export const Nullable = <T extends TSchema & { type: string }>(schema: T) => Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
const Time = Type.String({ description: 'ISO 8601, UTC' });

export const ErrorBody = Type.Object(
  { error: Type.String(), error_description: Type.String() },
  { $id: 'Error', description: 'RFC 6749 §5.2 error; tokend\'s own APIs use the same shape' },
);

/** The usual error answers of an endpoint, for the OpenAPI document. */
export const errors = (...codes: number[]): Record<number, TSchema> =>
  Object.fromEntries(codes.map((code) => [code, Type.Ref('Error')]));

export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

export const NextCursor = Nullable(Type.String({ description: 'pass as `cursor` for the next page' }));

/** OAuth parameters arrive as form fields or JSON; all are strings, unknown ones are ignored (RFC 6749 §3.1). */
export const OAuthParams = (names: string[]) =>
  Type.Object(Object.fromEntries(names.map((name) => [name, Type.Optional(Type.String({ maxLength: 8192 }))])), {
    additionalProperties: true,
  });

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
});

export const AppBody = Type.Object(
  {
    id: Type.String(),
    client_id: Type.String(),
    name: Type.String(),
    grants: Type.Array(Type.String()),
    scopes: Type.Array(Type.String()),
    access_token_format: Type.String(),
    service_token_format: Type.String(),
    audience: Nullable(Type.String()),
    access_token_ttl: Type.Integer(),
    refresh_token_ttl: Type.Integer(),
    service_token_ttl: Type.Integer(),
    install_token_ttl: Type.Integer(),
    device_token_ttl: Type.Integer(),
    refresh_reuse_grace_seconds: Type.Integer(),
    deeplink_template: Type.String(),
    created_at: Time,
    updated_at: Time,
    client_secret: Type.Optional(Type.String({ description: 'only in the answer that made it' })),
  },
  { $id: 'App' },
);

export const UserBody = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    user_profile_id: Type.String(),
    disabled: Type.Boolean(),
    created_at: Time,
    updated_at: Time,
  },
  { $id: 'User' },
);

export const SessionBody = Type.Object(
  {
    id: Type.String(),
    app_id: Type.String(),
    device_info: Type.String(),
    ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    created_at: Time,
    last_used_at: Time,
    current: Type.Optional(Type.Boolean()),
  },
  { $id: 'Session' },
);

export const TokenMeta = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    format: Type.String(),
    app_id: Type.String(),
    user_id: Nullable(Type.Integer()),
    session_id: Nullable(Type.String()),
    install_id: Nullable(Type.String()),
    name: Nullable(Type.String()),
    scopes: Type.Array(Type.String()),
    created_at: Time,
    expires_at: Nullable(Time),
    revoked_at: Nullable(Time),
    last_used_at: Nullable(Time),
    used_at: Nullable(Time),
    token: Type.Optional(Type.String({ description: 'the secret, only in the answer that made it' })),
  },
  { $id: 'TokenMeta' },
);

export const ApiTokenRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 200 }), { maxItems: 100 }), Type.String({ maxLength: 4096 })])),
    expires_in: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  },
  { additionalProperties: false },
);

export const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const SHARED_SCHEMAS = [ErrorBody, AppBody, UserBody, SessionBody, TokenMeta];
