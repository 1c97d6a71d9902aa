import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RecordedAudit } from '../core/audit.js';
import type { Core } from '../core/context.js';
import { InvalidToken } from '../core/errors.js';
import { DOORS, type Door, type VerificationReport } from '../core/observer.js';
import { sameSecret } from '../core/secrets.js';
import { authorizationCredential } from './auth.js';
import type { TokenKind } from '../core/tokens.js';
import { oauthError, useErrorShape } from './errors.js';
import { FastHistogram, VerificationTally } from './tally.js';

const TOKEN_KINDS: readonly TokenKind[] = ['access', 'refresh', 'service', 'install', 'api'];
/** What a revocation covered: one token of a kind, a session, or everything of a deleted user or app or revoked master key. */
const REVOKED_KINDS: readonly string[] = [...TOKEN_KINDS, 'session', 'user', 'app', 'master-key'];
const LOGIN_FAILURES: readonly string[] = ['unknown_user', 'wrong_password', 'disabled'];

/** A cache hit takes microseconds, a store read milliseconds: buckets from 10 µs to 1 s. */
const VERIFICATION_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** SPEC §10 bounds fan-out at 1 s; the RedisBus distrusts its cache past 0.75 s. */
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5];

const oneOf = <T extends string>(value: unknown, allowed: readonly T[], otherwise: T): T =>
  typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : otherwise;

/** Who acted, as a door: an app revokes through /oauth/revoke, an operator through the operator API or CLI. */
function actorDoor(actor: string): Door {
  if (actor.startsWith('app:')) return 'oauth';
  if (actor.startsWith('master-key:')) return 'master-key';
  if (actor.startsWith('operator:')) return 'admin';
  if (actor.startsWith('user:')) return 'self-service';
  return 'other';
}

/** Logins name their door; the other issuances are told apart by grant, kind and actor. */
function issuingDoor({ actor, detail }: RecordedAudit): Door {
  if (detail?.door !== undefined) return oneOf(detail.door, DOORS, 'other');
  if (detail?.grant === 'client_credentials') return 'oauth';
  if (detail?.kind === 'service') return 'master-key';
  if (detail?.kind === 'install' && actor.startsWith('user:')) return 'install-token';
  return actorDoor(actor);
}

/** A grant issues an access token, and a refresh token when `detail.refresh` says so; the others name their kind. */
function issuedKinds(detail: RecordedAudit['detail']): readonly TokenKind[] {
  if (detail?.kind !== undefined) return [oneOf(detail.kind, TOKEN_KINDS, 'access')];
  return detail?.refresh === true ? ['access', 'refresh'] : ['access'];
}

let processRegistry: Registry | null = null;

/**
 * prom-client's default metrics describe the process, not an app, and each
 * collection of them installs process-wide observers: made once per process
 * and shared by every app's registry.
 */
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * tokend's Prometheus metrics, in a registry of this app's own (tests run many
 * apps in one process). Counts come from the core's audit events and
 * verification reports; every label value is from a fixed set, never a token,
 * id or username.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly exposed: Registry;
  private readonly issued: Counter<'kind' | 'door'>;
  private readonly refreshed: Counter<'door'>;
  private readonly refreshReuse: Counter<'outcome' | 'door'>;
  private readonly revoked: Counter<'kind' | 'door'>;
  private readonly verified: Counter<'kind' | 'door' | 'result'>;
  private readonly loginsFailed: Counter<'reason'>;
  private readonly verifyFromCache: (seconds: number) => void;
  private readonly verifyFromStore: (seconds: number) => void;
  private readonly lag: Histogram;
  /** Verifications are counted here and reach `verified` at each scrape (src/http/tally.ts). */
  private readonly verifiedTally = new VerificationTally();

  constructor(private readonly core: Core) {
    const registers = [this.registry];
    this.issued = new Counter({
      name: 'tokend_tokens_issued_total',
      help: 'Tokens issued by logins, grants and the dialects (not by refreshes), by kind and door',
      labelNames: ['kind', 'door'],
      registers,
    });
    this.refreshed = new Counter({ name: 'tokend_tokens_refreshed_total', help: 'Refresh tokens rotated into a new token pair, by door', labelNames: ['door'], registers });
    this.refreshReuse = new Counter({
      name: 'tokend_refresh_reuse_total',
      help: 'Used refresh tokens presented again: replayed (same pair answered, inside the grace window) or session_revoked (reuse)',
      labelNames: ['outcome', 'door'],
      registers,
    });
    this.revoked = new Counter({
      name: 'tokend_tokens_revoked_total',
      help: 'Revocations, by what they covered (a token kind, session, user, app or master-key) and door',
      labelNames: ['kind', 'door'],
      registers,
    });
    const verifiedTally = this.verifiedTally;
    this.verified = new Counter({
      name: 'tokend_tokens_verified_total',
      help: 'Token verifications, by kind (unknown: no valid prefix, or a JWT refused), door and result',
      labelNames: ['kind', 'door', 'result'],
      registers,
      collect() {
        verifiedTally.flush(this);
      },
    });
    this.loginsFailed = new Counter({ name: 'tokend_logins_failed_total', help: 'Refused password logins, by reason', labelNames: ['reason'], registers });
    const duration = new FastHistogram(
      'tokend_verification_duration_seconds',
      'Time to verify a presented token, by whether the verification cache answered',
      VERIFICATION_BUCKETS,
      this.registry,
    );
    this.verifyFromCache = duration.child({ cached: 'true' });
    this.verifyFromStore = duration.child({ cached: 'false' });
    this.lag = new Histogram({
      name: 'tokend_revocation_fanout_lag_seconds',
      help: "Round trip of this node's Redis heartbeat: how late a revocation reaches the other nodes (no samples without Redis)",
      buckets: LAG_BUCKETS,
      registers,
    });
    const cache = core.cache;
    /** A counter whose value is a running total kept elsewhere, read at each scrape. */
    const runningTotal = (name: string, help: string, read: () => number) => {
      let counted = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const total = read();
          this.inc(total - counted);
          counted = total;
        },
      });
    };
    runningTotal('tokend_verification_cache_hits_total', 'Verifications answered from the verification cache', () => cache.hits);
    runningTotal('tokend_verification_cache_misses_total', 'Cache lookups that found nothing live and read the store', () => cache.misses);
    new Gauge({ name: 'tokend_verification_cache_entries', help: 'Verified tokens held in the cache', registers, collect() { this.set(cache.size); } });
    new Gauge({
      name: 'tokend_revocation_delivery_trusted',
      help: '1 while this node can prove it hears every revocation (always, without Redis); 0 while it bypasses its cache',
      registers,
      collect() {
        this.set(core.bus.trusted ? 1 : 0);
      },
    });
    const hasher = core.hasher;
    new Gauge({ name: 'tokend_password_hashes_pending', help: 'Password hashes computing or waiting for a hashing thread', registers, collect() { this.set(hasher.pending); } });
    runningTotal('tokend_password_hashes_dropped_total', 'Queued password hashes never computed because the client had closed its connection', () => hasher.dropped);
    this.exposed = Registry.merge([this.registry, processMetrics()]);
  }

  /** Starts counting what the core reports; the answer stops it. */
  subscribe(): () => void {
    const stops = [
      this.core.audit.onRecord((event) => this.recorded(event)),
      this.core.observer.onVerification((report) => this.verification(report)),
      this.core.observer.onFanOutLag((seconds) => this.lag.observe(seconds)),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }

  get contentType(): string {
    return this.exposed.contentType;
  }

  /** The Prometheus text format: tokend's metrics, then the process's. */
  render(): Promise<string> {
    return this.exposed.metrics();
  }

  private verification({ kind, ok, cached, seconds, door }: VerificationReport): void {
    this.verifiedTally.add(kind ?? 'unknown', door ?? 'other', ok);
    if (cached) this.verifyFromCache(seconds);
    else this.verifyFromStore(seconds);
  }

  private recorded(event: RecordedAudit): void {
    const { detail } = event;
    const door = oneOf(detail?.door, DOORS, actorDoor(event.actor));
    switch (event.action) {
      case 'token.issued':
        for (const kind of issuedKinds(detail)) this.issued.inc({ kind, door: issuingDoor(event) });
        return;
      case 'admin.api_token.created':
        this.issued.inc({ kind: 'api', door: 'admin' });
        return;
      case 'token.refreshed':
        this.refreshed.inc({ door });
        return;
      case 'token.refresh_replayed':
        this.refreshReuse.inc({ outcome: 'replayed', door });
        return;
      case 'token.refresh_reused':
        this.refreshReuse.inc({ outcome: 'session_revoked', door });
        this.revoked.inc({ kind: 'session', door });
        return;
      case 'token.revoked':
        this.revoked.inc({ kind: oneOf(detail?.kind, REVOKED_KINDS, 'other'), door });
        return;
      case 'session.revoked':
        this.revoked.inc({ kind: 'session', door });
        return;
      case 'token.leaked': {
        // A reported leak revokes a token, its whole session (a refresh token), or a master key.
        const kind = detail?.revoked === 'session' ? 'session' : detail?.kind === 'master_key' ? 'master-key' : oneOf(detail?.kind, REVOKED_KINDS, 'other');
        this.revoked.inc({ kind, door });
        return;
      }
      case 'admin.user.deleted':
        this.revoked.inc({ kind: 'user', door });
        return;
      case 'admin.app.deleted':
        this.revoked.inc({ kind: 'app', door });
        return;
      case 'admin.master_key.revoked':
        this.revoked.inc({ kind: 'master-key', door });
        return;
      case 'login.failed':
        this.loginsFailed.inc({ reason: oneOf(detail?.reason, LOGIN_FAILURES, 'other') });
        return;
      case 'login.rate_limited':
        this.loginsFailed.inc({ reason: 'rate_limited' });
        return;
    }
  }
}

/**
 * GET /metrics. Open on the listen address unless `token` is set; then
 * Prometheus sends it as `Authorization: Bearer <token>` (its
 * `authorization.credentials`), compared in constant time.
 */
export async function metricsRoutes(app: FastifyInstance, { metrics, token }: { metrics: Metrics; token: string | null }): Promise<void> {
  useErrorShape(app, oauthError);
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['Operations'],
        summary: 'Prometheus metrics: tokens issued, refreshed, revoked and verified; verification latency; cache; fan-out lag',
        ...(token !== null && { security: [{ metrics: [] }] }),
      },
    },
    async (request, reply) => {
      if (token !== null) {
        const presented = authorizationCredential(request);
        if (presented === null || !sameSecret(presented, token)) throw new InvalidToken('/metrics needs "Authorization: Bearer <TOKEND_METRICS_TOKEN>"');
      }
      return reply.header('content-type', metrics.contentType).send(await metrics.render());
    },
  );
}
