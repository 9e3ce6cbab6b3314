/**
 * Last will: published when a connection ends without a normal DISCONNECT (or with MQTT 5 reason
 * 0x04), after the MQTT 5 will delay unless the session is resumed first, and at the latest when
 * the session ends. Authorised as a publish by the connection's principal when it is sent.
 */
import type { IConnectPacket } from 'mqtt-packet';
import type { Principal } from '../../core/adapter.js';
import type { MqttContext } from './context.js';
import { publishToMessage } from './mqtt-message.js';
import { mqttTopicToCore } from './topics.js';

export type WillPacket = NonNullable<IConnectPacket['will']>;

export async function publishWill(ctx: MqttContext, will: WillPacket, clientId: string, principal: Principal): Promise<void> {
  const topic = mqttTopicToCore(will.topic);
  try {
    if (!ctx.auth.authorise(principal, 'publish', topic)) {
      ctx.log.info({ clientId, topic: will.topic }, 'mqtt: will not published (not authorised)');
      return;
    }
    const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
    const qos = will.qos ?? 0;
    const m = publishToMessage(topic, payload, qos, !!will.retain, will.properties, clientId, Date.now());
    const waits = [ctx.broker.publish(m)];
    if (will.retain) waits.push(ctx.broker.retained.set(topic, m));
    ctx.stats.willsPublished++;
    await Promise.all(waits);
  } catch (err) {
    ctx.log.warn({ err, clientId, topic: will.topic }, 'mqtt: publishing a will failed');
  }
}
