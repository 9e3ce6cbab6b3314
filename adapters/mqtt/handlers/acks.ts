/** PUBACK, PUBREC, PUBREL and PUBCOMP from the client. */
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket, Packet } from 'mqtt-packet';
import { encodeAck } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import { RC } from '../reason-codes.js';

function packetId(conn: PacketContext, p: Packet): number | null {
  const id = p.messageId;
  if (typeof id !== 'number' || id < 1 || id > 65535) {
    conn.fail(RC.ProtocolError, `${p.cmd} without a packet identifier`);
    return null;
  }
  return id;
}

export function handlePuback(conn: PacketContext, p: IPubackPacket | Packet): void {
  const id = packetId(conn, p);
  if (id === null) return;
  if (!conn.session!.onPuback(id)) conn.ctx.log.debug({ conn: conn.id, id }, 'mqtt: PUBACK for an unknown packet id');
}

export function handlePubrec(conn: PacketContext, p: IPubrecPacket | Packet): void {
  const id = packetId(conn, p);
  if (id === null) return;
  if (!conn.session!.onPubrec(id, (p as IPubrecPacket).reasonCode ?? 0)) {
    conn.write(encodeAck('pubrel', id, conn.v5, RC.PacketIdentifierNotFound));
  }
}

export function handlePubrel(conn: PacketContext, p: IPubrelPacket | Packet): void {
  const id = packetId(conn, p);
  if (id === null) return;
  const session = conn.session!;
  if (!session.inboundQos2.delete(id)) {
    conn.write(encodeAck('pubcomp', id, conn.v5, RC.PacketIdentifierNotFound));
    return;
  }
  if (!session.durable) {
    conn.write(encodeAck('pubcomp', id, conn.v5));
    return;
  }
  conn.ctx.store.deleteInflight(conn.clientId, 'i', id).then(
    () => conn.write(encodeAck('pubcomp', id, conn.v5)),
    (err: unknown) => conn.ctx.storeError(err, { clientId: conn.clientId }, 'mqtt: storing QoS 2 state failed'),
  );
}

export function handlePubcomp(conn: PacketContext, p: IPubcompPacket | Packet): void {
  const id = packetId(conn, p);
  if (id === null) return;
  if (!conn.session!.onPubcomp(id)) conn.ctx.log.debug({ conn: conn.id, id }, 'mqtt: PUBCOMP for an unknown packet id');
}
