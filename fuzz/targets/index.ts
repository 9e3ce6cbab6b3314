/** Every parser-level fuzz target, by name. */
import type { FuzzTarget } from '../target.js';
import { adminTarget } from './admin-http.js';
import { amqpTarget } from './amqp.js';
import { kafkaTarget } from './kafka.js';
import { mqttTarget } from './mqtt.js';
import { stompTarget } from './stomp.js';
import { websocketTarget } from './websocket.js';
import { xmppTarget } from './xmpp.js';

export const TARGETS: Record<string, () => FuzzTarget> = {
  mqtt: mqttTarget,
  stomp: stompTarget,
  amqp: amqpTarget,
  kafka: kafkaTarget,
  xmpp: xmppTarget,
  websocket: websocketTarget,
  'admin-http': adminTarget,
};
