/** SUBSCRIBE: filter validation, authorisation, subscription options; SUBACK; then retained messages. */
import type { ISubscribePacket } from 'mqtt-packet';
import type { Message } from '../../../core/message.js';
import type { Packet } from '../codec.js';
import type { PacketContext } from '../packet-context.js';
import { RC } from '../reason-codes.js';
import type { SubscriptionOptions } from '../session-store.js';
import { parseFilter, sharedQueueName, type ParsedFilter } from '../topics.js';

/** The core's limit on queue names. */
const MAX_QUEUE_NAME = 1024;

export async function handleSubscribe(conn: PacketContext, p: ISubscribePacket): Promise<void> {
  const { ctx } = conn;
  const s = ctx.settings;
  const v5 = conn.v5;
  const session = conn.session!;
  if (!p.messageId) return conn.fail(RC.ProtocolError, 'SUBSCRIBE without a packet identifier');
  if (p.subscriptions.length === 0) return conn.fail(RC.ProtocolError, 'SUBSCRIBE without topic filters');
  let subId: number | undefined;
  if (v5 && p.properties?.subscriptionIdentifier !== undefined) {
    const sid = p.properties.subscriptionIdentifier as unknown;
    if (typeof sid !== 'number' || sid < 1 || sid > 268_435_455) return conn.fail(RC.ProtocolError, 'invalid subscription identifier');
    subId = sid;
  }
  const failure = v5 ? 0 : 0x80;
  const codes: number[] = new Array<number>(p.subscriptions.length);
  const accepted: Array<{ parsed: ParsedFilter; opts: SubscriptionOptions; index: number }> = [];
  let count = session.subs.size;
  for (let i = 0; i < p.subscriptions.length; i++) {
    const sub = p.subscriptions[i];
    const parsed = parseFilter(sub.topic);
    if (typeof parsed === 'string') {
      codes[i] = failure || RC.TopicFilterInvalid;
      ctx.warnLimited({ conn: conn.id, clientId: conn.clientId, filter: sub.topic, problem: parsed }, 'mqtt: subscription refused');
      continue;
    }
    if (parsed.group !== undefined && sub.nl) return conn.fail(RC.ProtocolError, 'no local on a shared subscription');
    if (parsed.group !== undefined && sharedQueueName(parsed.group, parsed.pattern).length > MAX_QUEUE_NAME) {
      codes[i] = failure || RC.TopicFilterInvalid;
      ctx.warnLimited({ conn: conn.id, clientId: conn.clientId, filter: sub.topic }, 'mqtt: shared subscription name too long');
      continue;
    }
    if (!ctx.auth.authorise(conn.principal!, 'subscribe', parsed.pattern)) {
      codes[i] = failure || RC.NotAuthorized;
      ctx.log.info({ conn: conn.id, clientId: conn.clientId, filter: sub.topic }, 'mqtt: subscription not authorised');
      continue;
    }
    const isNew = !session.subs.has(parsed.filter) && !accepted.some((a) => a.parsed.filter === parsed.filter);
    if (isNew && s.maxSubscriptionsPerSession >= 0 && count >= s.maxSubscriptionsPerSession) {
      codes[i] = failure || RC.QuotaExceeded;
      continue;
    }
    if (isNew) count++;
    const qos = Math.min(sub.qos, s.maxQos) as 0 | 1 | 2;
    const opts: SubscriptionOptions = { qos };
    if (v5) {
      if (sub.nl) opts.nl = true;
      if (sub.rap) opts.rap = true;
      if (sub.rh) opts.rh = sub.rh as 1 | 2;
      if (subId !== undefined) opts.id = subId;
    }
    accepted.push({ parsed, opts, index: i });
    codes[i] = qos;
  }
  let retained: Message[] = [];
  if (accepted.length > 0) {
    try {
      retained = await session.subscribe(accepted);
    } catch (err) {
      ctx.storeError(err, { clientId: conn.clientId }, 'mqtt: subscribe failed');
      for (const a of accepted) codes[a.index] = failure || RC.UnspecifiedError;
    }
  }
  if (conn.state !== 'connected') return;
  conn.sendPacket({ cmd: 'suback', messageId: p.messageId, granted: codes } as Packet);
  if (retained.length > 0) session.sendRetained(retained);
}
