/**
 * Kafka for send/receive with kafkajs (as the Kafka tools): the topic is the URL path, `?key=`
 * and `?partition=` pick the key and partition, headers are record headers and the content type
 * travels as the `content-type` header (docs/mapping.md). receive reads with --group (or a
 * throw-away group) from the committed offset, or the beginning with --from-beginning.
 */
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { CliError } from '../errors.js';
import { checkWritableTopic, kafkaClient, kafkaFailure } from '../kafka/client.js';
import { headersOf, type ConnectOptions, type ProtocolClient } from './types.js';

async function client(o: ConnectOptions) {
  const t = o.target;
  const props = new Map<string, string>();
  if (t.tls) props.set('security.protocol', o.user ? 'SASL_SSL' : 'SSL');
  else if (o.user) props.set('security.protocol', 'SASL_PLAINTEXT');
  if (o.user) {
    props.set('sasl.mechanism', t.params.get('mechanism') ?? 'PLAIN');
    props.set('sasl.username', o.user);
    props.set('sasl.password', o.password ?? '');
  }
  const kafka = await kafkaClient({ brokers: [`${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`], clientId: 'junction-cli', properties: props, ssl: o.tls });
  return kafka;
}

function brokerOf(o: ConnectOptions): string[] {
  return [`${o.target.host}:${o.target.port}`];
}

export const kafkaProtocol: ProtocolClient = {
  async sender(o) {
    const kafka = await client(o);
    const { Partitioners } = await import('kafkajs');
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    try {
      await checkWritableTopic(kafka, o.target.path, 'send');
      await producer.connect();
    } catch (e) {
      throw kafkaFailure(e, brokerOf(o), 'junction send');
    }
    const key = o.target.params.get('key');
    const partition = o.target.params.get('partition');
    if (partition !== null && !/^\d+$/.test(partition)) throw new CliError(`junction send: ?partition= must be a partition number (got "${partition}")`);
    return {
      async send(m) {
        const headers: Record<string, string> = { ...m.headers };
        if (m.contentType) headers['content-type'] = m.contentType;
        try {
          await producer.send({ topic: o.target.path, acks: -1, messages: [{ key: key ?? null, value: m.body, headers, partition: partition === null ? undefined : Number(partition) }] });
        } catch (e) {
          throw kafkaFailure(e, brokerOf(o), `junction send: topic ${o.target.path}`);
        }
      },
      async close() { await producer.disconnect(); },
    };
  },
  async receiver(o) {
    const kafka = await client(o);
    const admin = kafka.admin();
    let consumer: Consumer | null = null;
    const positions = new Map<number, string>();
    return {
      async start(onMessage) {
        try {
          await admin.connect();
          if (!(await admin.listTopics()).includes(o.target.path)) throw new CliError(`junction receive: topic '${o.target.path}' does not exist`);
          await admin.disconnect();
          consumer = kafka.consumer({ groupId: o.group ?? `junction-receive-${Math.floor(Math.random() * 1e6)}`, maxWaitTimeInMs: 500, retry: { retries: 2 } });
          await consumer.connect();
          await consumer.subscribe({ topics: [o.target.path], fromBeginning: o.fromBeginning === true });
          const joined = new Promise<void>((resolve) => consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()));
          await consumer.run({
            autoCommit: false,
            eachMessage: async ({ partition, message }: EachMessagePayload) => {
              const headers = headersOf(message.headers);
              const contentType = headers['content-type'];
              delete headers['content-type'];
              const wanted = onMessage({
                body: message.value ?? Buffer.alloc(0),
                headers,
                contentType,
                fields: { topic: o.target.path, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, timestamp: message.timestamp },
              });
              if (wanted) positions.set(partition, (BigInt(message.offset) + 1n).toString());
            },
          });
          await joined;
        } catch (e) {
          throw kafkaFailure(e, brokerOf(o), 'junction receive');
        }
      },
      async close() {
        if (consumer && o.group && positions.size) {
          await consumer.commitOffsets([...positions].map(([partition, offset]) => ({ topic: o.target.path, partition, offset }))).catch(() => undefined);
        }
        await consumer?.disconnect();
        await admin.disconnect().catch(() => undefined);
      },
    };
  },
};
