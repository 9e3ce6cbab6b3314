/** Routes each packet to its handler; enforces "CONNECT first, CONNECT once". */
import type { IAuthPacket, IConnectPacket, IDisconnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import { PINGRESP, type Packet, type PacketFlags } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import { RC } from '../reason-codes.js';
import { handleAuth } from './auth.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePublish } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

export function dispatchPacket(conn: PacketContext, p: Packet & PacketFlags): void | Promise<void> {
  if (conn.state === 'new') {
    if (p.cmd !== 'connect') return conn.fail(RC.ProtocolError, `${p.cmd} before CONNECT`);
    return handleConnect(conn, p as IConnectPacket & PacketFlags);
  }
  if (conn.state === 'connecting') {
    // Only an enhanced-authentication exchange leaves CONNECT waiting for packets (handlers/auth.ts).
    if (p.cmd === 'auth') return handleAuth(conn, p as IAuthPacket);
    if (p.cmd === 'disconnect') return conn.end();
    if (conn.enhancedAuth) return conn.enhancedAuth.refuse(RC.ProtocolError, `${p.cmd} during authentication`);
    return conn.fail(RC.ProtocolError, `${p.cmd} before CONNACK`);
  }
  if (p.badString) return conn.fail(RC.MalformedPacket, `invalid UTF-8 or U+0000 in a string of ${p.cmd}`);
  switch (p.cmd) {
    case 'publish': return handlePublish(conn, p as IPublishPacket);
    case 'puback': return handlePuback(conn, p);
    case 'pubrec': return handlePubrec(conn, p);
    case 'pubrel': return handlePubrel(conn, p);
    case 'pubcomp': return handlePubcomp(conn, p);
    case 'subscribe': return handleSubscribe(conn, p as ISubscribePacket);
    case 'unsubscribe': return handleUnsubscribe(conn, p as IUnsubscribePacket);
    case 'pingreq': return conn.write(PINGRESP);
    case 'disconnect': return handleDisconnect(conn, p as IDisconnectPacket);
    case 'connect': return conn.fail(RC.ProtocolError, 'second CONNECT');
    case 'auth': return handleAuth(conn, p as IAuthPacket);
    default: return conn.fail(RC.ProtocolError, `unexpected ${p.cmd} from a client`);
  }
}
