/**
 * MQTT 5 enhanced authentication (spec section 4.12) with the platform's SASL mechanisms: a
 * CONNECT with an Authentication Method starts the exchange (its Authentication Data is the
 * initial response); the server's challenges go out in AUTH 0x18 (Continue authentication), the
 * client answers in AUTH 0x18; success is the CONNACK carrying the method and the final data
 * (SCRAM's server-final message). After CONNACK the client may re-authenticate with AUTH 0x19
 * (the same method, the same user), answered by AUTH 0x00 or DISCONNECT 0x87.
 *
 * Failures: a method the broker does not offer -> CONNACK 0x8C (Bad authentication method);
 * refused credentials -> CONNACK 0x87 (Not authorized); an AUTH with another method or reason
 * code, or any other packet during the exchange -> CONNACK 0x82 (Protocol Error).
 */
import type { IAuthPacket } from 'mqtt-packet';
import type { Principal, SaslExchange, SaslOutcome } from '../../../core/adapter.js';
import type { Packet } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import { RC } from '../reason-codes.js';

/** Methods offered (SASL mechanism names); PLAIN needs no exchange: CONNECT's user name and password carry it. */
export const MQTT_AUTH_METHODS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1'];

/** AUTH reason codes (spec 3.15.2.1). */
const CONTINUE = 0x18;
const REAUTHENTICATE = 0x19;

/** An exchange in progress on one connection. */
export interface EnhancedAuth {
  method: string;
  exchange: SaslExchange;
  /** Before CONNACK: finishes the CONNECT once authenticated. Null while re-authenticating. */
  accept: ((principal: Principal, data: Buffer | undefined) => Promise<void>) | null;
  /** Before CONNACK: refuses the CONNECT with a CONNACK reason code. */
  refuse: (rc: number, reason: string) => void;
}

/** The client's IP address, for the per-address failed-login limit. */
export function addressOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  return colon > 0 ? remote.slice(0, colon) : remote;
}

/**
 * Starts the exchange a CONNECT asks for. `accept` runs on success (now or after AUTH packets);
 * otherwise `refuse` has been called or a challenge is out.
 */
export async function startEnhancedAuth(
  conn: PacketContext, method: string, data: Buffer | undefined,
  accept: NonNullable<EnhancedAuth['accept']>, refuse: EnhancedAuth['refuse'],
): Promise<void> {
  const { sasl } = conn.ctx;
  const peer = { protocol: 'mqtt', remote: addressOf(conn.remote) };
  if (!MQTT_AUTH_METHODS.includes(method) || sasl.offered(peer, [method]).length === 0) {
    return refuse(RC.BadAuthenticationMethod, `authentication method ${method} is not supported (${MQTT_AUTH_METHODS.join(', ')})`);
  }
  const auth: EnhancedAuth = { method, exchange: sasl.exchange(peer), accept, refuse };
  conn.authMethod = method;
  conn.enhancedAuth = auth;
  return settle(conn, auth, await auth.exchange.start(method, data ?? null));
}

/** An AUTH packet from the client. */
export async function handleAuth(conn: PacketContext, p: IAuthPacket): Promise<void> {
  const rc = p.reasonCode ?? 0;
  const method = p.properties?.authenticationMethod;
  const data = p.properties?.authenticationData;
  const pending = conn.enhancedAuth;
  if (conn.state === 'connecting') {
    if (!pending) return conn.fail(RC.ProtocolError, 'AUTH before CONNACK without an authentication method');
    if (rc !== CONTINUE) return pending.refuse(RC.ProtocolError, `AUTH reason code 0x${rc.toString(16)} during authentication`);
    if (method !== pending.method) return pending.refuse(RC.ProtocolError, 'AUTH with another authentication method');
    return settle(conn, pending, await pending.exchange.step(data ?? Buffer.alloc(0)));
  }
  if (!conn.authMethod) return conn.fail(RC.ProtocolError, 'AUTH without an authentication method on CONNECT');
  if (method !== conn.authMethod) return conn.fail(RC.ProtocolError, 'AUTH with another authentication method');
  if (rc === REAUTHENTICATE && !pending) {
    const auth: EnhancedAuth = {
      method, exchange: conn.ctx.sasl.exchange({ protocol: 'mqtt', remote: addressOf(conn.remote) }),
      accept: null, refuse: (code, reason) => conn.fail(code, reason, 'debug'),
    };
    conn.enhancedAuth = auth;
    return settle(conn, auth, await auth.exchange.start(method, data ?? null));
  }
  if (rc === CONTINUE && pending) return settle(conn, pending, await pending.exchange.step(data ?? Buffer.alloc(0)));
  return conn.fail(RC.ProtocolError, `AUTH reason code 0x${rc.toString(16)} out of turn`);
}

async function settle(conn: PacketContext, auth: EnhancedAuth, outcome: SaslOutcome): Promise<void> {
  if (conn.state === 'closing' || conn.state === 'closed') return;
  if (outcome.kind === 'challenge') {
    conn.sendPacket({
      cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: auth.method, authenticationData: outcome.data },
    } as Packet);
    return;
  }
  conn.enhancedAuth = null;
  if (outcome.kind === 'failure') {
    // The auth plugin logged a refused login already.
    const rc = outcome.reason === 'invalid-mechanism' ? RC.BadAuthenticationMethod : RC.NotAuthorized;
    return auth.refuse(rc, outcome.reason === 'not-authorized' ? 'authentication refused' : outcome.message);
  }
  if (auth.accept) return auth.accept(outcome.principal, outcome.data);
  // Re-authentication: the connection keeps its identity, so it must be the same user.
  if (outcome.principal.user !== conn.principal?.user || outcome.principal.anonymous !== conn.principal.anonymous) {
    return conn.fail(RC.NotAuthorized, 're-authentication as another user', 'debug');
  }
  conn.sendPacket({
    cmd: 'auth', reasonCode: RC.Success,
    properties: { authenticationMethod: auth.method, ...(outcome.data ? { authenticationData: outcome.data } : {}) },
  } as Packet);
}
