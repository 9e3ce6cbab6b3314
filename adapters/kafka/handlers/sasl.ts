/**
 * SaslHandshake picks the mechanism; tokens then come in SaslAuthenticate requests or, from
 * clients that skip that API (kafka-python), as bare size-prefixed frames. The mechanisms are the
 * platform's SASL service (plugins/auth/sasl.ts). A failed exchange closes the connection, as
 * Kafka does.
 */
import type { SaslOutcome } from '../../../core/adapter.js';
import type { ConnectionState, Handler, KafkaServices } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

/** Kafka offers no EXTERNAL or ANONYMOUS over SASL (TLS client authentication is separate). */
const KAFKA_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

function peerOf(conn: ConnectionState) {
  return { protocol: 'kafka', remote: conn.clientHost.replace(/^\//, '') };
}

export const handleSaslHandshake: Handler = (ctx, req) => {
  const { settings, sasl } = ctx.services;
  const mechanisms = settings.saslMechanisms;
  const mechanism = req.mechanism as string;
  if (ctx.conn.principal !== null && !ctx.conn.principal.anonymous) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
  const peer = peerOf(ctx.conn);
  if (!mechanisms.includes(mechanism) || !KAFKA_MECHANISMS.includes(mechanism) || !sasl.offered(peer, [mechanism]).length) {
    return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
  }
  ctx.conn.sasl = { exchange: sasl.exchange(peer), mechanism, started: false };
  ctx.conn.saslRawTokens = true;
  return { errorCode: ErrorCode.NONE, mechanisms };
};

/** Feeds one token to the connection's exchange. */
async function saslStep(conn: ConnectionState, token: Buffer): Promise<SaslOutcome> {
  const s = conn.sasl!;
  if (s.started) return s.exchange.step(token);
  s.started = true;
  return s.exchange.start(s.mechanism, token);
}

/**
 * Applies an outcome: the principal on success, the end of the exchange unless it continues.
 * A success for a user at limits.maxConnectionsPerUser becomes a failure (the registry logs it).
 */
function settle(services: KafkaServices, conn: ConnectionState, outcome: SaslOutcome): SaslOutcome {
  if (outcome.kind === 'challenge') return outcome;
  conn.sasl = null;
  if (outcome.kind === 'success') {
    if (conn.client.claimUser(outcome.principal.anonymous ? null : outcome.principal.user)) {
      conn.principal = outcome.principal;
      return outcome;
    }
    return { kind: 'failure', reason: 'not-authorized', message: 'too many connections for this user' };
  }
  // A refused login: the auth plugin logged it.
  services.log.debug({ conn: conn.id, client: conn.clientHost, reason: outcome.message }, 'kafka SASL authentication failed');
  return outcome;
}

export const handleSaslAuthenticate: Handler = async (ctx, req) => {
  const conn = ctx.conn;
  conn.saslRawTokens = false;
  const fail = (errorCode: ErrorCode, errorMessage: string) => {
    conn.closeAfterResponses(errorMessage);
    return { errorCode, errorMessage, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
  };
  if (!conn.sasl) return fail(ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate before SaslHandshake');
  const outcome = settle(ctx.services, conn, await saslStep(conn, req.authBytes as Buffer));
  if (outcome.kind === 'failure') return fail(ErrorCode.SASL_AUTHENTICATION_FAILED, outcome.message);
  return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: outcome.data ?? Buffer.alloc(0), sessionLifetimeMs: 0 };
};

/** A bare token after the handshake; returns the bare reply, or null after closing the connection. */
export async function handleRawSaslToken(services: KafkaServices, conn: ConnectionState, token: Buffer): Promise<Buffer | null> {
  if (!conn.sasl) {
    conn.closeAfterResponses('SASL token without a handshake');
    return null;
  }
  const outcome = settle(services, conn, await saslStep(conn, token));
  if (outcome.kind === 'failure') {
    conn.closeAfterResponses(outcome.message);
    return null;
  }
  if (outcome.kind === 'challenge') conn.saslRawTokens = true; // more tokens follow (SCRAM)
  return outcome.data ?? Buffer.alloc(0);
}
