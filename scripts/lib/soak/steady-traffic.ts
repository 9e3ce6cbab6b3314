/**
 * Steady traffic for the soak beside the MQTT fleet: Kafka producers into a topic read by a
 * consumer group, a STOMP queue (SEND with receipts, client-individual ACKs), an AMQP queue
 * (settled durable sends, a receiver), XMPP chats between online users. Each protocol keeps
 * counters (sent, acknowledged, received, errors); nothing is kept per message.
 */
import kafkajs from 'kafkajs';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import rhea from 'rhea';
import type { Connection } from 'rhea';
import { client, xml, type Client, type XmlElement } from '@xmpp/client';
import { endpointOf, type Endpoints } from '../load/acked-load.js';
import { StompConnection } from '../load/stomp-connection.js';
import { registerAccount } from '../load/xmpp-load.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

export interface Counters {
  sent: number;
  acked: number;
  received: number;
  errors: number;
}

const counters = (): Counters => ({ sent: 0, acked: 0, received: 0, errors: 0 });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface SteadyOptions {
  prefix: string;
  endpoints: Endpoints;
  /** Messages per second per protocol. */
  rate: number;
  kafkaProducers: number;
  kafkaConsumers: number;
  xmppPairs: number;
}

export class SteadyTraffic {
  readonly counts = { kafka: counters(), stomp: counters(), amqp: counters(), xmpp: counters() };
  private running = false;
  private loops: Promise<void>[] = [];
  private closers: Array<() => Promise<unknown> | void> = [];

  constructor(private readonly o: SteadyOptions) {}

  async start(): Promise<void> {
    this.running = true;
    await Promise.all([this.startKafka(), this.startStomp(), this.startAmqp(), this.startXmpp()]);
  }

  /** Calls `tick` every `periodMs` until stop(), counting errors. */
  private loop(periodMs: number, c: Counters, tick: () => Promise<void>): void {
    this.loops.push((async () => {
      while (this.running) {
        const began = Date.now();
        try {
          await tick();
        } catch {
          c.errors++;
          await sleep(200);
        }
        const rest = periodMs - (Date.now() - began);
        if (rest > 0) await sleep(rest);
      }
    })());
  }

  private async startKafka(): Promise<void> {
    const c = this.counts.kafka;
    const topic = `soak.${this.o.prefix}.kafka`;
    const kafka: Kafka = new KafkaClient({
      clientId: `${this.o.prefix}-soak`, brokers: () => this.o.endpoints().kafka.map((e) => `${e.host}:${e.port}`), logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    await admin.disconnect();
    const consumers: Consumer[] = [];
    for (let i = 0; i < this.o.kafkaConsumers; i++) {
      const consumer = kafka.consumer({ groupId: `${this.o.prefix}-soak-group`, maxWaitTimeInMs: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachBatch: async ({ batch }) => void (c.received += batch.messages.length) });
      consumers.push(consumer);
      this.closers.push(() => consumer.disconnect());
    }
    const batch = 10;
    for (let i = 0; i < this.o.kafkaProducers; i++) {
      const producer: Producer = kafka.producer();
      await producer.connect();
      this.closers.push(() => producer.disconnect());
      this.loop((1000 * batch * this.o.kafkaProducers) / this.o.rate, c, async () => {
        c.sent += batch;
        await producer.send({ topic, acks: -1, messages: Array.from({ length: batch }, (_, k) => ({ key: `k${k}`, value: `soak-${c.sent + k}` })) });
        c.acked += batch;
      });
    }
  }

  private async startStomp(): Promise<void> {
    const c = this.counts.stomp;
    const destination = `/queue/soak.${this.o.prefix}.stomp`;
    const at = () => endpointOf(this.o.endpoints, 'stomp');
    let producer = await StompConnection.open(at());
    const consumer = await StompConnection.open(at());
    consumer.onMessage = (m) => {
      c.received++;
      consumer.write('ACK', { id: m.headers.ack ?? m.headers['message-id'] });
    };
    await consumer.request('SUBSCRIBE', { id: 's', destination, ack: 'client-individual', 'prefetch-count': '100' });
    this.closers.push(() => producer.close(), () => consumer.close());
    this.loop(1000 / this.o.rate, c, async () => {
      if (producer.closed) producer = await StompConnection.open(at());
      c.sent++;
      await producer.request('SEND', { destination, persistent: 'true' }, `soak-${c.sent}`);
      c.acked++;
    });
  }

  private async startAmqp(): Promise<void> {
    const c = this.counts.amqp;
    const address = `/queue/soak.${this.o.prefix}.amqp`;
    const at = endpointOf(this.o.endpoints, 'amqp');
    const container = rhea.create_container({ id: `${this.o.prefix}-soak-amqp` });
    const conn: Connection = container.connect({ host: at.host, port: at.port, reconnect: false });
    conn.on('error', () => undefined);
    conn.on('connection_error', () => undefined);
    const sender = conn.open_sender({ target: { address } });
    await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
    sender.on('accepted', () => void c.acked++);
    sender.on('rejected', () => void c.errors++);
    sender.on('released', () => void c.errors++);
    const receiver = conn.open_receiver({ source: { address }, credit_window: 100 });
    receiver.on('message', () => void c.received++);
    this.closers.push(() => conn.close());
    this.loop(1000 / this.o.rate, c, async () => {
      if (!sender.sendable()) throw new Error('amqp: no credit');
      c.sent++;
      sender.send({ body: `soak-${c.sent}`, durable: true });
    });
  }

  private async startXmpp(): Promise<void> {
    const c = this.counts.xmpp;
    const at = endpointOf(this.o.endpoints, 'xmpp');
    const users = Array.from({ length: this.o.xmppPairs * 2 }, (_, i) => `${this.o.prefix}-chat${i}`.toLowerCase());
    for (const u of users) await registerAccount(at, u, 'soak-pw');
    const clients: Client[] = [];
    for (const u of users) {
      const x = client({
        service: `xmpp://${at.host}:${at.port}`, domain: 'localhost', resource: 'soak',
        credentials: async (authenticate: (c: unknown, m: string) => Promise<void>) => authenticate({ username: u, password: 'soak-pw' }, 'PLAIN'),
      });
      x.reconnect.stop();
      x.on('error', () => undefined);
      x.on('stanza', (s: XmlElement) => {
        if (s.is('message') && s.getChild('body')) c.received++;
      });
      await x.start();
      await x.send(xml('presence'));
      clients.push(x);
      this.closers.push(() => Promise.race([x.stop().catch(() => undefined), sleep(2000)]));
    }
    for (let p = 0; p < this.o.xmppPairs; p++) {
      const [a, b] = [clients[2 * p], clients[2 * p + 1]];
      const [ua, ub] = [users[2 * p], users[2 * p + 1]];
      this.loop((1000 * this.o.xmppPairs) / this.o.rate, c, async () => {
        const from = c.sent % 2 === 0 ? a : b;
        const to = from === a ? ub : ua;
        c.sent++;
        await from.send(xml('message', { to: `${to}@localhost`, type: 'chat' }, xml('body', {}, `soak-${c.sent}`)));
        c.acked++;
      });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.closers.map(async (close) => {
      try {
        await close();
      } catch { /* already gone */ }
    }));
  }
}
