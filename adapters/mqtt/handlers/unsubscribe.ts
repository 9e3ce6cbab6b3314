/** UNSUBSCRIBE: removes subscriptions (bindings, shared-queue membership); UNSUBACK. */
import type { IUnsubscribePacket } from 'mqtt-packet';
import type { Packet } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import { RC } from '../reason-codes.js';

export async function handleUnsubscribe(conn: PacketContext, p: IUnsubscribePacket): Promise<void> {
  if (!p.messageId) return conn.fail(RC.ProtocolError, 'UNSUBSCRIBE without a packet identifier');
  if (p.unsubscriptions.length === 0) return conn.fail(RC.ProtocolError, 'UNSUBSCRIBE without topic filters');
  let codes: number[];
  try {
    codes = await conn.session!.unsubscribe(p.unsubscriptions);
  } catch (err) {
    conn.ctx.storeError(err, { clientId: conn.clientId }, 'mqtt: unsubscribe failed');
    codes = p.unsubscriptions.map(() => RC.UnspecifiedError);
  }
  if (conn.state !== 'connected') return;
  if (conn.v5) conn.sendPacket({ cmd: 'unsuback', messageId: p.messageId, granted: codes } as Packet);
  else conn.sendPacket({ cmd: 'unsuback', messageId: p.messageId } as Packet);
}
