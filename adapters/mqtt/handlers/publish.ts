/**
 * PUBLISH from the client: topic alias, validation, authorisation, then broker.publish() (and
 * broker.retained for RETAIN). PUBACK / PUBREC go out only once the core has stored the message
 * as its durability asks, in the order the PUBLISHes arrived.
 */
import { isUtf8 } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import type { IPublishPacket } from 'mqtt-packet';
import { QueueFullError } from '../../../core/queue-types.js';
import { encodeAck } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import type { InboundQos2 } from '../session.js';
import { checkPublishProperties, publishToMessage } from '../mqtt-message.js';
import { RC } from '../reason-codes.js';
import { checkPublishTopic } from '../topics.js';

export function handlePublish(conn: PacketContext, p: IPublishPacket): void {
  const { ctx } = conn;
  const s = ctx.settings;
  const v5 = conn.v5;
  const qos = p.qos;
  const id = p.messageId ?? 0;
  const props = v5 ? p.properties : undefined;
  let topic = p.topic;
  if (props) {
    const problem = checkPublishProperties(props);
    if (problem) return conn.fail(RC.ProtocolError, problem);
    if (props.subscriptionIdentifier !== undefined) return conn.fail(RC.ProtocolError, 'subscription identifier in a PUBLISH from a client');
    const alias = props.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > s.topicAliasMaximum) return conn.fail(RC.TopicAliasInvalid, `topic alias ${alias} out of range`);
      if (topic.length === 0) {
        const known = conn.inboundAliases?.get(alias);
        if (known === undefined) return conn.fail(RC.ProtocolError, `unknown topic alias ${alias}`);
        topic = known;
      } else {
        (conn.inboundAliases ??= new Map()).set(alias, topic);
      }
    }
  }
  if (qos > s.maxQos) return conn.fail(RC.QoSNotSupported, `QoS ${qos} not supported`);
  if (p.retain && !s.retainAvailable) return conn.fail(RC.RetainNotSupported, 'retain not supported');
  if (qos > 0 && id === 0) return conn.fail(RC.ProtocolError, 'PUBLISH without a packet identifier');
  const problem = checkPublishTopic(topic);
  if (problem === 'empty') return conn.fail(RC.ProtocolError, 'empty topic name');
  if (problem === 'wildcard') return conn.fail(RC.TopicNameInvalid, `wildcard in topic name "${topic}"`);
  if (problem === 'nul') return conn.fail(RC.MalformedPacket, 'U+0000 in topic name');
  ctx.stats.publishesReceived++;
  conn.client.messagesIn++;
  const session = conn.session!;
  const ackType = qos === 1 ? 'puback' : 'pubrec';

  const prior = qos === 2 ? session.inboundQos2.get(id) : undefined;
  if (prior?.stored) {
    // A resent QoS 2 PUBLISH: acknowledged again, not published twice.
    conn.fillAck(conn.ackSlot(), encodeAck('pubrec', id, v5));
    return;
  }
  if (qos > 0 && !prior && v5 && s.enforceReceiveMaximum && conn.inboundQos1 + session.inboundQos2.size >= s.receiveMaximum) {
    return conn.fail(RC.ReceiveMaximumExceeded, 'receive maximum exceeded');
  }
  if (problem === 'unsupported') return refuse(conn, qos, id, RC.TopicNameInvalid, `topic name "${topic}" has no core form ('*' or too many levels)`);
  const coreTopic = conn.coreTopic(topic);
  if (!conn.mayPublish(coreTopic)) return refuse(conn, qos, id, RC.NotAuthorized, `not authorised to publish to ${coreTopic}`);
  const payload = p.payload as Buffer;
  if (props?.payloadFormatIndicator && !isUtf8(payload)) return refuse(conn, qos, id, RC.PayloadFormatInvalid, 'payload is not UTF-8');

  const message = publishToMessage(coreTopic, payload, qos, p.retain, props, conn.clientId, Date.now());
  const exchange = qos === 2 ? inboundExchange(conn, id, prior, coreTopic, payload) : undefined;
  if (exchange) message.publishId = exchange.publishId;
  const publish = (): Promise<unknown> => {
    const published = ctx.broker.publish(message);
    return p.retain ? Promise.all([published, ctx.broker.retained.set(coreTopic, message)]) : published;
  };
  let done: Promise<unknown>;
  let noSubscribers = false;
  const clustered = ctx.broker.cluster.clustered;
  try {
    if (v5 && qos > 0) noSubscribers = !ctx.broker.hasRoute(coreTopic);
    // In a cluster the exchange's record is stored first: a client that resends to another node
    // after this one died has its message published again under the same id, and stored once.
    done = exchange && session.durable && clustered ? ctx.store.putInflight(conn.clientId, 'i', id, exchange.publishId).then(publish) : publish();
  } catch (err) {
    if (exchange) session.inboundQos2.delete(id);
    return refuse(conn, qos, id, RC.TopicNameInvalid, (err as Error).message);
  }
  if (exchange && session.durable && !clustered) done = Promise.all([done, ctx.store.putInflight(conn.clientId, 'i', id, exchange.publishId)]);
  conn.publishStarted();
  if (qos === 0) {
    const [ok, failed] = conn.qos0Settle();
    done.then(ok, failed);
    return;
  }
  const slot = conn.ackSlot();
  if (qos === 1) conn.inboundQos1++;
  done.then(() => {
    conn.publishSettled();
    if (qos === 1) conn.inboundQos1--;
    if (exchange) exchange.stored = true;
    conn.fillAck(slot, encodeAck(ackType, id, v5, noSubscribers ? RC.NoMatchingSubscribers : 0));
  }, (err: Error) => {
    // A store that refuses writes (a full disk) is logged once a minute, not once per PUBLISH.
    const refused = ctx.storeError(err, { clientId: conn.clientId }, 'mqtt: publish failed');
    conn.publishSettled();
    if (qos === 1) conn.inboundQos1--;
    // An MQTT 5 client is told and the exchange ends; an MQTT 3.1.1 client resends the PUBLISH
    // after reconnecting, and the exchange stays to publish it under the same id. Its record stays
    // in a cluster (written first: it may have been stored); a single node's record is written
    // after the message in the journal, so on restart it means "stored": it goes.
    if (exchange && session.inboundQos2.get(id) === exchange && (v5 || (session.durable && !clustered))) {
      if (v5) session.inboundQos2.delete(id);
      if (session.durable) void ctx.store.deleteInflight(conn.clientId, 'i', id).catch(() => undefined);
    }
    if (v5) {
      const rc = err instanceof QueueFullError ? RC.QuotaExceeded : RC.UnspecifiedError;
      conn.fillAck(slot, encodeAck(ackType, id, true, rc, conn.problemInfo ? err.message : undefined));
    } else {
      // MQTT 3.1.1 has no negative acknowledgement: the client resends after reconnecting.
      conn.fillAck(slot, null);
      conn.fail(RC.UnspecifiedError, `publish failed: ${err.message}`, refused ? 'debug' : 'warn');
    }
  });
}

/**
 * A PUBLISH the broker does not take (not authorised, no core form, bad payload format). MQTT 5
 * clients get the reason code; MQTT 3.1/3.1.1 clients, which have none, are acknowledged and the
 * message dropped (as mosquitto does), so a client does not retry it forever. Logged (rate-limited).
 */
function refuse(conn: PacketContext, qos: number, id: number, rc: number, reason: string): void {
  conn.ctx.warnLimited({ conn: conn.id, clientId: conn.clientId, reasonCode: rc, reason }, 'mqtt: publish refused');
  if (qos === 0) return;
  const type = qos === 1 ? 'puback' : 'pubrec';
  if (conn.v5) conn.fillAck(conn.ackSlot(), encodeAck(type, id, true, rc, conn.problemInfo ? reason : undefined));
  else conn.fillAck(conn.ackSlot(), encodeAck(type, id, false));
}

/**
 * The QoS 2 exchange a PUBLISH starts, or the unstored one it resends (same packet id, same topic
 * and payload): its publishId names the client, the packet id, a nonce (a new exchange may reuse
 * the packet id) and a digest of the content (a client that reuses the id for another message is
 * not taken for a resend).
 */
const NONCE_PREFIX = randomBytes(9).toString('base64url');
let nonces = 0;

function inboundExchange(conn: PacketContext, id: number, prior: InboundQos2 | undefined, topic: string, payload: Buffer): InboundQos2 {
  const digest = createHash('sha256').update(topic).update('\u0000').update(payload).digest('base64url').slice(0, 22);
  if (prior && prior.publishId.endsWith(`/${digest}`)) return prior;
  const exchange: InboundQos2 = { publishId: `mqtt/${conn.clientId}/${id}/${NONCE_PREFIX}${(++nonces).toString(36)}/${digest}`, stored: false };
  conn.session!.inboundQos2.set(id, exchange);
  return exchange;
}
