/**
 * MQTT for send/receive with the `mqtt` package, MQTT 5 (so headers travel as user properties and
 * the content type as Content Type). `?qos=` (default 1: sends are acknowledged once stored) and
 * `?retain=true`; the topic is the URL path (`+` and `#` wildcards for receive).
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { CliError } from '../errors.js';
import { headersOf, type ConnectOptions, type ProtocolClient, type ReceivedMessage } from './types.js';

function qosOf(o: ConnectOptions): 0 | 1 | 2 {
  const q = o.target.params.get('qos') ?? '1';
  if (q !== '0' && q !== '1' && q !== '2') throw new CliError(`junction: ?qos= must be 0, 1 or 2 (got "${q}")`);
  return Number(q) as 0 | 1 | 2;
}

async function connect(o: ConnectOptions): Promise<MqttClient> {
  const mqtt = (await import('mqtt')).default;
  const t = o.target;
  const options: IClientOptions = {
    protocolVersion: 5,
    clientId: t.params.get('clientId') ?? `junction-cli-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    username: o.user,
    password: o.password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    clean: true,
    ...o.tls,
  };
  return mqtt.connectAsync(`${t.tls ? 'mqtts' : 'mqtt'}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`, options);
}

export const mqttClient: ProtocolClient = {
  async sender(o) {
    const qos = qosOf(o);
    const retain = o.target.params.get('retain') === 'true';
    const client = await connect(o);
    return {
      async send(m) {
        await client.publishAsync(o.target.path, m.body, {
          qos, retain,
          properties: { userProperties: Object.keys(m.headers).length ? m.headers : undefined, contentType: m.contentType },
        });
      },
      async close() { await client.endAsync(); },
    };
  },
  async receiver(o) {
    const qos = qosOf(o);
    const client = await connect(o);
    return {
      async start(onMessage) {
        client.on('message', (topic, payload, packet) => {
          const props = packet.properties ?? {};
          const m: ReceivedMessage = {
            body: payload,
            headers: headersOf(props.userProperties),
            contentType: props.contentType,
            fields: { topic, qos: packet.qos, retain: packet.retain },
          };
          onMessage(m);
        });
        const granted = await client.subscribeAsync(o.target.path, { qos });
        const code = granted[0]?.qos;
        if (code !== undefined && code >= 0x80) throw new CliError(`junction receive: the broker refused the subscription to ${o.target.path} (reason code ${code})`);
      },
      async close() { await client.endAsync(); },
    };
  },
};
