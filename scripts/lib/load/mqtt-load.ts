/**
 * MQTT 5 QoS 1 or 2 publisher and a persistent-session subscriber (clean start off, session
 * expiry one hour) that was subscribed before the first publish, so everything acknowledged
 * waits for it in the broker. One publisher client for the whole trial: mqtt.js reconnects and
 * resends its unacknowledged packets itself (DUP), which is what QoS 2's exactly-once must absorb.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { AckedLoad, endpointOf, ReadBack, Refusal, type LoadOptions, type ReadResult } from './acked-load.js';

const SESSION_EXPIRY_S = 3600;

function connect(o: LoadOptions, clientId: string, extra: IClientOptions = {}): MqttClient {
  let attempt = 0;
  const pick = () => endpointOf(o.endpoints, 'mqtt', attempt++);
  const first = pick();
  const client = mqtt.connect({
    host: first.host, port: first.port, protocolVersion: 5, clientId, clean: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
    reconnectPeriod: 200, connectTimeout: 5000, keepalive: 30, resubscribe: false,
    ...extra,
  });
  // Each reconnect asks the broker under test again (a cluster may have replaced the node).
  client.on('close', () => {
    try {
      const next = pick();
      client.options.host = next.host;
      client.options.port = next.port;
    } catch {
      // No node up at the moment: try the same one again.
    }
  });
  client.on('error', () => undefined);
  return client;
}

function connected(client: MqttClient, timeoutMs = 15000): Promise<void> {
  if (client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mqtt: not connected in time')), timeoutMs);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export class MqttLoad extends AckedLoad {
  readonly name: string;
  readonly exactlyOnce: boolean;
  private readonly topic: string;
  private publisher?: MqttClient;
  private reader?: MqttClient;

  constructor(o: LoadOptions, private readonly qos: 1 | 2) {
    super(o);
    this.name = `mqtt-qos${qos}`;
    this.exactlyOnce = qos === 2;
    this.topic = `chaos/${o.prefix}/qos${qos}`;
  }

  private get readerId(): string {
    return `${this.o.prefix}-sub-q${this.qos}`;
  }

  async prepare(): Promise<void> {
    const sub = connect(this.o, this.readerId, { reconnectPeriod: 0 });
    try {
      await connected(sub);
      await sub.subscribeAsync(this.topic, { qos: this.qos });
    } finally {
      await sub.endAsync();
    }
    this.publisher = connect(this.o, `${this.o.prefix}-pub-q${this.qos}`);
    await connected(this.publisher);
  }

  protected send(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.publisher!.publish(this.topic, id, { qos: this.qos }, (err, packet) => {
        // mqtt.js reports PUBACK/PUBREC reason codes >= 0x80 as an error with the code.
        if (err) reject((err as { code?: number }).code !== undefined ? new Refusal(`reason code ${(err as { code?: number }).code}`) : err);
        else if (packet && 'reasonCode' in packet && (packet.reasonCode ?? 0) >= 0x80) reject(new Refusal(`reason code ${packet.reasonCode}`));
        else resolve();
      });
    });
  }

  async readBack(expected: Set<string>, timeoutMs: number): Promise<ReadResult> {
    const read = new ReadBack(expected, this.o.prefix);
    const reader = connect(this.o, this.readerId);
    this.reader = reader;
    reader.on('message', (_topic, payload) => read.count(payload.toString()));
    await connected(reader);
    return read.done(timeoutMs);
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher, this.reader].map((c) => c?.endAsync(true).catch(() => undefined)));
  }
}
