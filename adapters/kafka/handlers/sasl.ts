/**
 * SaslHandshake picks the mechanism; tokens then come in SaslAuthenticate requests or, from
 * clients that skip that API (kafka-python), as bare size-prefixed frames. A failed exchange
 * closes the connection, as Kafka does.
 */
import type { ConnectionState, Handler, KafkaServices } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import { createSaslExchange } from '../sasl.js';

export const handleSaslHandshake: Handler = (ctx, req) => {
  const { settings, auth } = ctx.services;
  const mechanisms = settings.saslMechanisms;
  const mechanism = req.mechanism as string;
  if (ctx.conn.principal !== null && !ctx.conn.principal.anonymous) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
  const exchange = mechanisms.includes(mechanism) ? createSaslExchange(mechanism, auth, ctx.conn.clientHost.replace(/^\//, '')) : null;
  if (!exchange) return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
  ctx.conn.sasl = exchange;
  ctx.conn.saslRawTokens = true;
  return { errorCode: ErrorCode.NONE, mechanisms };
};

export const handleSaslAuthenticate: Handler = async (ctx, req) => {
  const conn = ctx.conn;
  conn.saslRawTokens = false;
  const fail = (errorCode: ErrorCode, errorMessage: string) => {
    conn.closeAfterResponses(errorMessage);
    return { errorCode, errorMessage, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
  };
  if (!conn.sasl) return fail(ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate before SaslHandshake');
  const step = await conn.sasl.step(req.authBytes as Buffer);
  if (step.error) {
    conn.sasl = null;
    ctx.services.log.debug({ conn: conn.id, client: conn.clientHost, reason: step.error }, 'kafka SASL authentication failed'); // a refused login: auth logged it
    return fail(ErrorCode.SASL_AUTHENTICATION_FAILED, step.error);
  }
  if (step.principal) {
    conn.principal = step.principal;
    conn.sasl = null;
  }
  return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.response, sessionLifetimeMs: 0 };
};

/** A bare token after the handshake; returns the bare reply, or null after closing the connection. */
export async function handleRawSaslToken(services: KafkaServices, conn: ConnectionState, token: Buffer): Promise<Buffer | null> {
  if (!conn.sasl) {
    conn.closeAfterResponses('SASL token without a handshake');
    return null;
  }
  const step = await conn.sasl.step(token);
  if (step.error) {
    conn.sasl = null;
    services.log.debug({ conn: conn.id, client: conn.clientHost, reason: step.error }, 'kafka SASL authentication failed'); // a refused login: auth logged it
    conn.closeAfterResponses(step.error);
    return null;
  }
  if (step.principal) {
    conn.principal = step.principal;
    conn.sasl = null;
  } else {
    conn.saslRawTokens = true; // more tokens follow (SCRAM)
  }
  return step.response;
}
