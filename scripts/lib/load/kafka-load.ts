/**
 * Kafka: an idempotent kafkajs producer (acks=all, one request in flight, kafkajs' own retries)
 * sending one record per send to a topic of its own; the reader fetches every partition from
 * offset 0 up to the high watermark with a consumer group of its own. Duplicates count: an
 * idempotent producer promises each record once per partition even when it retries across a crash.
 */
import kafkajs from 'kafkajs';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { AckedLoad, ReadBack, Refusal, type LoadOptions, type ReadResult } from './acked-load.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

/** kafkajs errors that carry a Kafka error code: the broker answered, and the answer was no. */
function isBrokerAnswer(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e; e = (e.originalError ?? e.cause) as typeof e) {
    if (typeof e.type === 'string' && e.type !== 'UNKNOWN' && e.type !== 'NETWORK_EXCEPTION') return true;
  }
  return false;
}

export class KafkaLoad extends AckedLoad {
  readonly name = 'kafka-idem';
  readonly exactlyOnce = true;
  private readonly topic: string;
  private kafka: Kafka;
  private producer?: Producer;
  private consumer?: Consumer;

  constructor(o: LoadOptions, private readonly partitions = 2) {
    super(o);
    this.topic = `chaos.${o.prefix}.kafka`;
    this.kafka = new KafkaClient({
      clientId: `${o.prefix}-kafka`,
      // A function: every (re)connect asks the broker under test where to go now.
      brokers: () => o.endpoints().kafka.map((e) => `${e.host}:${e.port}`),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      requestTimeout: 10000,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  async prepare(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: this.topic, numPartitions: this.partitions }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: this.o.clientRetries ?? 30, initialRetryTime: 100, maxRetryTime: 1000 } });
    await this.producer.connect();
  }

  protected send(id: string): Promise<void> {
    return this.sendBatch([id]);
  }

  /**
   * One send() at a time: kafkajs gives each concurrent send() of an idempotent producer its
   * sequence numbers when the request is built and rolls them back when the request fails, so
   * after a lost connection another send() reuses the sequence of a batch the broker already
   * stored, is answered as its duplicate (acknowledged, not stored), and the failed batch is then
   * stored again under a later sequence (tulios/kafkajs#1005). Seen in a crash trial here as one
   * record lost and one duplicated; a Kafka broker dedupes by sequence in the same way.
   */
  protected override async sendBatch(ids: string[]): Promise<void> {
    try {
      await this.producer!.send({ topic: this.topic, acks: -1, messages: ids.map((id) => ({ key: id, value: id })) });
    } catch (err) {
      throw isBrokerAnswer(err) ? new Refusal((err as Error).message) : err;
    }
  }

  async readBack(expected: Set<string>, timeoutMs: number): Promise<ReadResult> {
    const read = new ReadBack(expected, this.o.prefix);
    this.consumer = this.kafka.consumer({ groupId: `${this.o.prefix}-reader`, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({ eachMessage: async ({ partition, message }) => read.count(message.value?.toString() ?? '', `${partition}/${message.offset}`) });
    // A group join takes a few seconds before the first record: a longer idle bound than the others.
    return read.done(timeoutMs, 10000);
  }

  async close(): Promise<void> {
    await Promise.all([this.producer?.disconnect(), this.consumer?.disconnect()].map((p) => p?.catch(() => undefined)));
  }
}

