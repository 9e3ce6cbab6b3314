/** Real clients of every protocol, connected to one test broker, for the cross-protocol suite. */
import { Client as StompClient, type IMessage } from '@stomp/stompjs';
import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import rhea, { type Connection, type EventContext, type Message as AmqpMessage } from 'rhea';
import { WebSocket } from 'ws';
import type { RunningBroker } from '../support/index.js';

export const HOST = '127.0.0.1';

export function mqttClient(b: RunningBroker, clientId: string): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://${HOST}:${b.ports.mqtt}`, { protocolVersion: 5, clientId, reconnectPeriod: 0 });
}

export function kafka(b: RunningBroker): Kafka {
  return new Kafka({ clientId: 'cross', brokers: [`${HOST}:${b.ports.kafka}`], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

/** A kafkajs consumer of `topic` from the beginning, collecting what it gets. */
export async function kafkaCollector(b: RunningBroker, topic: string, group: string): Promise<{ got: EachMessagePayload[]; consumer: Consumer }> {
  const got: EachMessagePayload[] = [];
  const consumer = kafka(b).consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async (p) => { got.push(p); } });
  return { got, consumer };
}

export async function stompClient(b: RunningBroker): Promise<StompClient> {
  const client = new StompClient({
    webSocketFactory: () => new WebSocket(`ws://${HOST}:${b.ports.http}/stomp`, ['v12.stomp']),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (f) => reject(new Error(f.headers.message));
    client.activate();
  });
  return client;
}

export function stompCollect(client: StompClient, destination: string, headers: Record<string, string> = {}): IMessage[] {
  const got: IMessage[] = [];
  client.subscribe(destination, (m) => got.push(m), headers);
  return got;
}

export async function amqpConnection(b: RunningBroker): Promise<Connection> {
  const container = rhea.create_container({ id: `cross-${Math.random().toString(36).slice(2)}` });
  const conn = container.connect({ host: HOST, port: b.ports.amqp!, reconnect: false });
  await new Promise<void>((resolve, reject) => {
    conn.once('connection_open', () => resolve());
    conn.once('connection_error', (ctx: EventContext) => reject(ctx.connection.error));
    conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
  });
  return conn;
}

/** An AMQP receiver on `address`, opened (attach answered) before it returns. */
export async function amqpCollect(conn: Connection, address: string): Promise<AmqpMessage[]> {
  const got: AmqpMessage[] = [];
  const receiver = conn.open_receiver({ source: { address }, autoaccept: true });
  receiver.on('message', (ctx: EventContext) => { if (ctx.message) got.push(ctx.message); });
  await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
  return got;
}

/** A single AMQP data section holding `bytes`. */
export function amqpData(bytes: Buffer): unknown {
  return rhea.message.data_section(bytes);
}

export async function amqpSend(conn: Connection, address: string, message: AmqpMessage): Promise<void> {
  const sender = conn.open_sender({ target: { address } });
  await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    sender.send(message);
    sender.once('accepted', () => resolve());
    sender.once('rejected', (ctx: EventContext) => reject(new Error(String(ctx.delivery?.remote_state?.error?.description ?? 'rejected'))));
  });
  sender.close();
}
