/**
 * Kafka workloads of bench/cluster-bench.ts, with kafkajs in this process against node child
 * processes: acks=all produce for a fixed time, consume of what was produced, and the time a
 * partition of an RF3 topic takes to accept a produce again after kill -9 of its leader node.
 */
import kafkajsModule, { type Kafka as KafkaClient, type Producer } from 'kafkajs';
import type { Deployment } from './cluster-setup.js';

const { Kafka, logLevel } = kafkajsModule;

/** Records per send, sends in flight per partition, partitions per topic. */
export const BATCH = 100;
export const PARTITIONS = 3;
/** Sends in flight at once (2 per partition). */
export const IN_FLIGHT = 2 * PARTITIONS;

export interface ProduceRun { records: number; bytes: number; sec: number; errors: number; firstError?: string }
export interface ConsumeRun { records: number; sec: number; expected: number }

function client(seeds: string[], retries = 5): KafkaClient {
  return new Kafka({ clientId: 'junction-cluster-bench', brokers: seeds, logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
}

export async function createTopic(d: Deployment, topic: string, replicationFactor: number, partitions = PARTITIONS): Promise<void> {
  const admin = client(d.kafkaSeeds()).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** acks=all sends of BATCH records of `size` bytes, IN_FLIGHT at once, spread over the partitions, for `seconds`. */
export async function produce(d: Deployment, topic: string, size: number, seconds: number): Promise<ProduceRun> {
  const producer = client(d.kafkaSeeds()).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(size, 0x61);
  const batches = Array.from({ length: PARTITIONS }, (_, p) => Array.from({ length: BATCH }, () => ({ value, partition: p })));
  const run: ProduceRun = { records: 0, bytes: 0, sec: 0, errors: 0 };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const loop = async (p: number): Promise<void> => {
    while (performance.now() < end) {
      try {
        await producer.send({ topic, acks: -1, messages: batches[p] });
        run.records += BATCH;
      } catch (err) {
        run.errors++;
        run.firstError ??= (err as Error).message;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => loop(i % PARTITIONS)));
  } finally {
    run.sec = (performance.now() - t0) / 1000;
    await producer.disconnect();
  }
  run.bytes = run.records * size;
  return run;
}

/**
 * Reads `expected` records from the beginning with a consumer group. The time runs from the
 * group join (so the join and its rebalance delay are not counted) to the last record; gives up
 * after `timeoutSec`.
 */
export async function consume(d: Deployment, topic: string, expected: number, timeoutSec: number): Promise<ConsumeRun> {
  const consumer = client(d.kafkaSeeds()).consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  let joinedAt = 0;
  let lastAt = 0;
  let records = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  consumer.on(consumer.events.GROUP_JOIN, () => { joinedAt ||= performance.now(); });
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        records += batch.messages.length;
        lastAt = performance.now();
        if (records >= expected) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutSec * 1000); })]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return { records, expected, sec: joinedAt && lastAt > joinedAt ? (lastAt - joinedAt) / 1000 : 0 };
}

export interface FailoverRun { leader: number; ms: number; failedSends: number; firstError?: string; records: number; readBack: number }

/**
 * kill -9 of the node leading partition 0 of a fresh RF3 topic, then sends (kafkajs, retries on)
 * to that partition until one is acknowledged: the time from the kill to that acknowledgement.
 * Then reads the partition back to check that every acknowledged record is there.
 */
export async function failover(d: Deployment, topic: string, timeoutSec = 60): Promise<FailoverRun> {
  await createTopic(d, topic, 3, 1);
  const kafka = client(d.kafkaSeeds(), 3);
  const admin = kafka.admin();
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await admin.connect();
  await producer.connect();
  let acked = 0;
  const send = async (): Promise<void> => {
    await producer.send({ topic, acks: -1, messages: [{ value: Buffer.from(`r${acked}`), partition: 0 }] });
    acked++;
  };
  try {
    for (let i = 0; i < 10; i++) await send();
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = md.topics[0].partitions.find((p) => p.partitionId === 0)!.leader;
    const victim = d.nodes.find((n) => n.spec.nodeId === leader);
    if (!victim) throw new Error(`partition 0 of ${topic}: leader ${leader} is not one of the nodes`);
    await victim.kill('SIGKILL');
    const t0 = performance.now();
    const run: FailoverRun = { leader, ms: 0, failedSends: 0, records: 0, readBack: 0 };
    for (;;) {
      try {
        await send();
        break;
      } catch (err) {
        run.failedSends++;
        run.firstError ??= (err as Error).message;
        if (performance.now() - t0 > timeoutSec * 1000) throw new Error(`no produce accepted ${timeoutSec} s after the kill: ${(err as Error).message}`);
      }
    }
    run.ms = performance.now() - t0;
    run.records = acked;
    await producer.disconnect();
    await admin.disconnect();
    const back = await consume(d, topic, acked, 20);
    run.readBack = back.records;
    return run;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
