/** DISCONNECT from the client: reason 0x04 keeps the will; MQTT 5 may change the session expiry. */
import type { IDisconnectPacket } from 'mqtt-packet';
import type { PacketContext } from '../packet-context.js';
import { NEVER } from '../context.js';
import { RC } from '../reason-codes.js';

export async function handleDisconnect(conn: PacketContext, p: IDisconnectPacket): Promise<void> {
  const session = conn.session!;
  if (conn.v5) {
    const expiry = p.properties?.sessionExpiryInterval;
    if (expiry !== undefined) {
      if (typeof expiry !== 'number') return conn.fail(RC.ProtocolError, 'repeated session expiry interval');
      if (session.expiry === 0 && expiry !== 0) {
        return conn.fail(RC.ProtocolError, 'session expiry set on DISCONNECT after 0 on CONNECT');
      }
      const capped = Math.min(expiry, conn.ctx.settings.maxSessionExpiryInterval);
      session.expiry = capped === NEVER ? NEVER : capped;
    }
    conn.graceful = (p.reasonCode ?? 0) !== RC.DisconnectWithWill;
  } else {
    conn.graceful = true;
  }
  // In a cluster the discarded will's shared record goes before the connection ends, so no other node publishes it.
  const wills = conn.ctx.sessions.clusterWills;
  if (conn.graceful && conn.will && wills) await wills.discard(conn.clientId).catch(() => undefined);
  conn.end();
}
