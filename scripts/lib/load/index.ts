/** Every protocol's acknowledged load, as one mixed set for a fault trial. */
import type { AckedLoad, LoadOptions } from './acked-load.js';
import { AmqpLoad } from './amqp-load.js';
import { KafkaLoad } from './kafka-load.js';
import { MqttLoad } from './mqtt-load.js';
import { StompLoad } from './stomp-load.js';
import { XmppLoad } from './xmpp-load.js';

export * from './acked-load.js';
export { AmqpLoad, KafkaLoad, MqttLoad, StompLoad, XmppLoad };

export const LOAD_NAMES = ['mqtt-qos1', 'mqtt-qos2', 'kafka-idem', 'stomp', 'amqp', 'xmpp'] as const;
export type LoadName = (typeof LOAD_NAMES)[number];

export function createLoad(name: LoadName, o: LoadOptions): AckedLoad {
  switch (name) {
    case 'mqtt-qos1': return new MqttLoad(o, 1);
    case 'mqtt-qos2': return new MqttLoad(o, 2);
    case 'kafka-idem': return new KafkaLoad(o);
    case 'stomp': return new StompLoad(o);
    case 'amqp': return new AmqpLoad(o);
    case 'xmpp': return new XmppLoad(o);
  }
}
