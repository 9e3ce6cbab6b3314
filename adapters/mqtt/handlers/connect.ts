/**
 * CONNECT: protocol level, client identifier (assigned when empty), authentication through the
 * auth plug-in, will, session (clean start / resume, takeover of a connected client id), limits
 * announced in CONNACK (MQTT 5 properties), keep-alive.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { Principal } from '../../../core/adapter.js';
import { MAX_REMAINING_LENGTH, type Packet, type PacketFlags } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import { checkPublishProperties } from '../mqtt-message.js';
import { connackCodeV4, RC } from '../reason-codes.js';
import { Session } from '../session.js';
import { addressOf, startEnhancedAuth } from './auth.js';
import { checkPublishTopic, sessionQueueName } from '../topics.js';

type ConnackProps = NonNullable<IConnackPacket['properties']>;

const SINGLE_VALUED = [
  'sessionExpiryInterval', 'receiveMaximum', 'maximumPacketSize', 'topicAliasMaximum',
  'requestResponseInformation', 'requestProblemInformation', 'authenticationMethod',
] as const;

export async function handleConnect(conn: PacketContext, p: IConnectPacket & PacketFlags): Promise<void> {
  const { ctx } = conn;
  const s = ctx.settings;
  conn.state = 'connecting';
  conn.version = p.protocolVersion ?? 4;
  const v5 = conn.v5;

  /** `warn` null: logged elsewhere already. */
  const refuse = (rc: number, reason: string, warn: boolean | null = true): void => {
    if (warn) ctx.warnLimited({ conn: conn.id, remote: conn.remote, clientId: p.clientId, reasonCode: rc, reason }, 'mqtt: connection refused');
    else if (warn === false) ctx.log.info({ conn: conn.id, remote: conn.remote, clientId: p.clientId, reason }, 'mqtt: connection refused');
    if (v5) {
      conn.sendPacket({ cmd: 'connack', reasonCode: rc, sessionPresent: false, properties: { reasonString: reason } } as Packet);
    } else {
      conn.sendPacket({ cmd: 'connack', returnCode: connackCodeV4(rc), sessionPresent: false } as Packet);
    }
    conn.end();
  };

  if (p.badString) {
    if (v5) return refuse(RC.MalformedPacket, 'invalid UTF-8 or U+0000 in a string');
    return conn.fail(RC.MalformedPacket, 'invalid UTF-8 or U+0000 in a string of CONNECT');
  }
  if ((conn.version === 3) !== (p.protocolId === 'MQIsdp')) {
    return refuse(RC.UnsupportedProtocolVersion, `protocol name ${p.protocolId} does not fit protocol level ${conn.version}`);
  }
  const props = v5 ? p.properties : undefined;
  if (props) {
    for (const k of SINGLE_VALUED) {
      const v = props[k];
      if (v === null || Array.isArray(v)) return refuse(RC.ProtocolError, `property ${k} repeated or malformed`);
    }
    if (props.receiveMaximum === 0) return refuse(RC.ProtocolError, 'receive maximum 0');
    if (props.maximumPacketSize === 0) return refuse(RC.ProtocolError, 'maximum packet size 0');
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
      return refuse(RC.ProtocolError, 'authentication data without an authentication method');
    }
  }
  const will = p.will;
  if (will) {
    const problem = checkPublishTopic(will.topic);
    if (problem) return refuse(RC.TopicNameInvalid, `will topic "${will.topic}": ${problem}`);
    if (v5) {
      const propProblem = checkPublishProperties(will.properties);
      if (propProblem) return refuse(RC.ProtocolError, `will: ${propProblem}`);
      const wd = will.properties?.willDelayInterval;
      if (wd !== undefined && typeof wd !== 'number') return refuse(RC.ProtocolError, 'will delay repeated');
      if (will.properties?.payloadFormatIndicator && Buffer.isBuffer(will.payload) && !isUtf8(will.payload)) {
        return refuse(RC.PayloadFormatInvalid, 'will payload is not UTF-8');
      }
    }
    if ((will.qos ?? 0) > s.maxQos) return refuse(RC.QoSNotSupported, `will QoS ${will.qos} not supported`);
    if (will.retain && !s.retainAvailable) return refuse(RC.RetainNotSupported, 'retain not supported');
  }

  let clientId = p.clientId;
  let assigned = false;
  if (clientId === '') {
    if (v5 || (conn.version === 4 && p.clean)) {
      clientId = `junction-${randomUUID()}`;
      assigned = true;
    } else {
      return refuse(RC.ClientIdentifierNotValid, 'empty client identifier needs a clean session');
    }
  }
  if (clientId.length > s.maxClientIdLength) return refuse(RC.ClientIdentifierNotValid, 'client identifier too long');
  if (s.maxConnections >= 0 && ctx.sessions.connections.size >= s.maxConnections && !ctx.sessions.connections.has(clientId)) {
    return refuse(v5 ? RC.QuotaExceeded : RC.ServerUnavailable, 'too many connections');
  }

  const accept = async (principal: Principal, authData?: Buffer): Promise<void> => {
    // Counted for its user before CONNACK (limits.maxConnectionsPerUser); the registry logs refusals.
    // A client id reconnecting while its old connection is open takes that one over: not refused.
    const takesOver = ctx.sessions.connections.get(clientId)?.principal?.user === principal.user;
    if (!conn.client.claimUser(principal.anonymous ? null : principal.user, takesOver)) return refuse(v5 ? RC.QuotaExceeded : RC.ServerUnavailable, 'too many connections for this user', null);
    return acceptConnect(conn, p, clientId, assigned, principal, authData);
  };
  // MQTT 5 enhanced authentication: a SASL exchange in CONNECT and AUTH packets (handlers/auth.ts).
  if (props?.authenticationMethod !== undefined) {
    // A refused login is logged by the auth plugin; a protocol problem is logged here.
    return startEnhancedAuth(conn, props.authenticationMethod, props.authenticationData, accept, (rc, reason) => refuse(rc, reason, rc !== RC.NotAuthorized));
  }
  let principal: Principal | null;
  try {
    principal = await ctx.auth.authenticate('mqtt', p.username, p.password, addressOf(conn.remote));
  } catch (err) {
    ctx.log.error({ err, clientId }, 'mqtt: authentication failed');
    return refuse(RC.UnspecifiedError, 'authentication failed', false);
  }
  if (conn.state !== 'connecting') return;
  if (!principal) {
    return refuse(p.username === undefined ? RC.NotAuthorized : RC.BadUserNameOrPassword, 'authentication refused', false);
  }
  return accept(principal);
}

/** The CONNECT authenticated: session, CONNACK, keep-alive. */
async function acceptConnect(
  conn: PacketContext, p: IConnectPacket & PacketFlags, clientId: string, assigned: boolean, principal: Principal, authData: Buffer | undefined,
): Promise<void> {
  const { ctx } = conn;
  const s = ctx.settings;
  const broker = ctx.broker;
  const v5 = conn.v5;
  const props = v5 ? p.properties : undefined;
  const will = p.will;
  conn.principal = principal;
  conn.clientId = clientId;

  const requested = v5 ? (props?.sessionExpiryInterval ?? 0) : p.clean ? 0 : s.persistentSessionExpiry;
  const expiry = Math.min(requested, s.maxSessionExpiryInterval);
  const cleanStart = p.clean !== false;
  const window = Math.min(props?.receiveMaximum ?? 65535, s.maxInflight);

  let keepAlive = p.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (v5 && s.maxKeepAlive > 0 && (keepAlive === 0 || keepAlive > s.maxKeepAlive)) {
    keepAlive = serverKeepAlive = s.maxKeepAlive;
  }

  await ctx.sessions.withLock(clientId, async () => {
    if (conn.state !== 'connecting') return;
    const old = ctx.sessions.connections.get(clientId);
    if (old && old !== conn) await old.takeover();
    // In a cluster the session may have been made or changed on another node a moment ago.
    await broker.metadata.sync();
    if (conn.state !== 'connecting') return;
    let record = ctx.store.get(clientId);
    let present = false;
    if (cleanStart || !record) {
      if (record || broker.getQueue(sessionQueueName(clientId))) await ctx.sessions.endSession(clientId);
      record = undefined;
    } else {
      present = true;
      ctx.sessions.cancelWill(clientId);
      ctx.sessions.cancelExpiry(clientId);
    }
    const session = new Session(ctx, conn, clientId, present || expiry > 0, expiry, window);
    conn.session = session;
    ctx.sessions.connections.set(clientId, conn);
    await session.restore(record);
    if (session.durable) await ctx.store.put(clientId, session.record(null));
    if (conn.state !== 'connecting') return; // closed meanwhile: the queued teardown detaches the session

    conn.will = will ?? null;
    conn.willDelay = v5 ? (will?.properties?.willDelayInterval ?? 0) : 0;
    if (ctx.sessions.clusterWills) {
      // Before CONNACK, so the will outlives this node once the client has been told it is connected.
      await ctx.sessions.clusterWills.connected(clientId, conn.will, expiry === 0 ? 0 : Math.min(conn.willDelay, expiry), conn.principal!)
        .catch((err: Error) => ctx.log.warn({ err: err.message, clientId }, 'mqtt: will not stored for the cluster (it is held by this node only)'));
      if (conn.state !== 'connecting') return;
    }
    if (props) {
      conn.clientMaxPacketSize = props.maximumPacketSize ?? MAX_REMAINING_LENGTH + 5;
      conn.clientTopicAliasMax = props.topicAliasMaximum ?? 0;
      conn.problemInfo = props.requestProblemInformation !== false;
    }
    conn.enableOutboundAliases();
    if (v5) {
      const cp: ConnackProps = {};
      if (expiry !== requested) cp.sessionExpiryInterval = expiry;
      if (s.receiveMaximum < 65535) cp.receiveMaximum = s.receiveMaximum;
      cp.maximumPacketSize = s.maxPacketSize;
      cp.topicAliasMaximum = s.topicAliasMaximum;
      if (assigned) cp.assignedClientIdentifier = clientId;
      if (serverKeepAlive !== undefined) cp.serverKeepAlive = serverKeepAlive;
      if (props?.requestResponseInformation && s.responseInformation !== null) cp.responseInformation = s.responseInformation + clientId;
      if (s.maxQos < 2) cp.maximumQoS = s.maxQos;
      if (conn.authMethod) cp.authenticationMethod = conn.authMethod;
      if (authData) cp.authenticationData = authData;
      if (!s.retainAvailable) cp.retainAvailable = false;
      conn.sendPacket({ cmd: 'connack', reasonCode: RC.Success, sessionPresent: present, properties: cp } as Packet);
    } else {
      conn.sendPacket({ cmd: 'connack', returnCode: 0, sessionPresent: present } as Packet);
    }
    conn.state = 'connected';
    ctx.stats.connects++;
    conn.client.identify(clientId, principal.anonymous ? null : principal.user);
    conn.startKeepAlive(keepAlive);
    session.start();
  });
}
