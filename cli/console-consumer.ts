/**
 * `junction console-consumer`: kafka-console-consumer.sh. Prints records as Kafka's default
 * formatter does; ends after --max-messages, after --timeout-ms without a record, or on Ctrl-C,
 * then prints `Processed a total of N messages` on stderr. With --group, the offsets of exactly
 * the printed records are committed (every 5 s and at the end), so a later describe shows the lag
 * of what was not printed. Without --group a throw-away group reads and commits nothing.
 */
import type { Admin, Assigner, Consumer, EachMessagePayload, Kafka, PartitionAssigner } from 'kafkajs';
import { bootstrapOf, collect, integer, keyValues, newCommand, parseArgs } from './args.js';
import { CliError, UsageError } from './errors.js';
import { kafkaClient, kafkaFailure, readProperties } from './kafka/client.js';
import { RecordFormatter } from './kafka/record-format.js';
import { err, Progress } from './output.js';

interface ConsumerOptions {
  bootstrapServer?: string;
  topic?: string;
  include?: string;
  whitelist?: string;
  group?: string;
  fromBeginning?: boolean;
  partition?: number;
  offset?: string;
  maxMessages?: number;
  timeoutMs?: number;
  property?: string[];
  consumerProperty?: string[];
  commandConfig?: string;
  keyDeserializer?: string;
  valueDeserializer?: string;
  isolationLevel?: string;
}

const COMMIT_INTERVAL_MS = 5000;

export async function consoleConsumerCommand(argv: string[]): Promise<number> {
  const cmd = newCommand('console-consumer', 'Print the records of a Kafka topic on stdout (kafka-console-consumer.sh).')
    .option('--bootstrap-server <host:port,...>', 'the Kafka listener(s) to connect to (required)')
    .option('--topic <name>', 'the topic to read')
    .option('--include <regex>', 'read every topic matching this regular expression (instead of --topic)')
    .option('--whitelist <regex>', 'older name of --include')
    .option('--group <id>', 'consumer group; its committed offsets are used and advanced')
    .option('--from-beginning', 'start at the earliest record when there is no committed offset')
    .option('--partition <n>', 'read only this partition', integer(0))
    .option('--offset <offset>', "with --partition: a number, 'earliest' or 'latest' (default latest)")
    .option('--max-messages <n>', 'stop after this many records', integer(1))
    .option('--timeout-ms <ms>', 'stop when no record arrived for this long', integer(1))
    .option('--property <key=value>', 'formatter property: print.key, print.value, print.timestamp, print.partition, print.offset, print.headers, key.separator, line.separator, headers.separator, null.literal (repeatable)', collect)
    .option('--consumer-property <key=value>', 'consumer property: group.id, client.id, auto.offset.reset, security settings (repeatable)', collect)
    .option('--consumer.config <file>', 'consumer properties file')
    .option('--command-config <file>', 'same as --consumer.config')
    .option('--key-deserializer <class>', 'StringDeserializer (default), LongDeserializer, IntegerDeserializer, DoubleDeserializer, ...')
    .option('--value-deserializer <class>', 'as --key-deserializer')
    .option('--isolation-level <level>', 'read_committed or read_uncommitted (default)');
  if (!parseArgs(cmd, argv)) return 0;
  const o = cmd.opts<ConsumerOptions & { 'consumer.config'?: string }>();
  const brokers = bootstrapOf(o, 'console-consumer');
  const include = o.include ?? o.whitelist;
  if (!o.topic === !include) throw new UsageError('junction console-consumer: exactly one of --topic and --include is needed');
  const props = readProperties(o['consumer.config'] ?? o.commandConfig);
  for (const [k, v] of keyValues(o.consumerProperty, '--consumer-property')) props.set(k, v);
  if (o.group && props.has('group.id') && props.get('group.id') !== o.group) throw new UsageError('junction console-consumer: --group and --consumer-property group.id name different groups');
  const group = o.group ?? props.get('group.id');
  if (o.partition !== undefined && !o.topic) throw new UsageError('junction console-consumer: --partition needs --topic');
  if (o.offset !== undefined && o.partition === undefined) throw new UsageError('junction console-consumer: --offset needs --partition');
  if (o.offset !== undefined && o.fromBeginning) throw new UsageError('junction console-consumer: --offset and --from-beginning cannot be used together');
  if (o.partition !== undefined && group) throw new UsageError('junction console-consumer: --partition and --group cannot be used together');
  if (o.offset !== undefined && !/^(\d+|earliest|latest)$/.test(o.offset)) throw new UsageError(`junction console-consumer: --offset: expected a number, earliest or latest, got "${o.offset}"`);
  const formatter = new RecordFormatter(keyValues(o.property, '--property', false, true), o.keyDeserializer, o.valueDeserializer);
  const fromBeginning = o.fromBeginning === true || props.get('auto.offset.reset') === 'earliest';

  const kafka = await kafkaClient({ brokers, clientId: 'console-consumer', properties: props });
  const admin = kafka.admin();
  let consumer: Consumer | null = null;
  const run = new ConsoleRun(o.maxMessages, o.timeoutMs);
  try {
    await admin.connect();
    if (o.topic) {
      const topics = await admin.listTopics();
      if (!topics.includes(o.topic)) throw new CliError(`junction console-consumer: topic '${o.topic}' does not exist`);
    }
    consumer = await startConsumer(kafka, admin, o, group, fromBeginning, include, run, formatter);
    process.once('SIGINT', () => run.finish());
    process.once('SIGTERM', () => run.finish());
    await run.done;
    if (group) await commit(consumer, run).catch(() => undefined);
  } catch (e) {
    throw kafkaFailure(e, brokers, 'junction console-consumer');
  } finally {
    run.stop();
    await consumer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  err(`Processed a total of ${run.count} messages`);
  if (run.failure) throw run.failure;
  return 0;
}

/** Counting, the end conditions, and the positions to commit. */
class ConsoleRun {
  count = 0;
  failure: CliError | null = null;
  readonly positions = new Map<string, { topic: string; partition: number; offset: string }>();
  readonly done: Promise<void>;
  private resolve!: () => void;
  private idle: NodeJS.Timeout | null = null;
  private finished = false;
  progress: Progress | null = null;
  committed = 0;

  constructor(readonly max: number | undefined, private readonly timeoutMs: number | undefined) {
    this.done = new Promise((r) => { this.resolve = r; });
    this.arm();
  }

  get isFinished(): boolean {
    return this.finished;
  }

  private arm(): void {
    if (this.timeoutMs === undefined) return;
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.finish(), this.timeoutMs);
  }

  record(topic: string, partition: number, offset: string): void {
    this.count++;
    this.progress?.add();
    this.positions.set(`${topic}\0${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    if (this.max !== undefined && this.count >= this.max) this.finish();
    else this.arm();
  }

  fail(e: CliError): void {
    this.failure ??= e;
    this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.idle) clearTimeout(this.idle);
    this.resolve();
  }

  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    this.progress?.stop();
  }
}

async function commit(consumer: Consumer, run: ConsoleRun): Promise<void> {
  if (run.positions.size === 0 || run.committed === run.count) return;
  run.committed = run.count;
  await consumer.commitOffsets([...run.positions.values()]);
}

/** Assigns only `partition` of `topic` (to the first member): --partition without a group. */
function onePartition(topic: string, partition: number, AssignerProtocol: typeof import('kafkajs').AssignerProtocol): PartitionAssigner {
  return (): Assigner => ({
    name: 'JunctionConsolePartition',
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: i === 0 ? { [topic]: [partition] } : {}, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return { name: 'JunctionConsolePartition', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

async function startConsumer(kafka: Kafka, admin: Admin, o: ConsumerOptions, group: string | undefined, fromBeginning: boolean, include: string | undefined, run: ConsoleRun, formatter: RecordFormatter): Promise<Consumer> {
  const { AssignerProtocol, PartitionAssigners } = await import('kafkajs');
  let seekTo: string | null = null;
  if (o.partition !== undefined) {
    const offsets = await admin.fetchTopicOffsets(o.topic!);
    const p = offsets.find((x) => x.partition === o.partition);
    if (!p) throw new CliError(`junction console-consumer: topic '${o.topic}' has no partition ${o.partition}`);
    const wanted = fromBeginning ? 'earliest' : o.offset ?? 'latest';
    seekTo = wanted === 'earliest' ? p.low : wanted === 'latest' ? p.high : wanted;
  }
  const consumer = kafka.consumer({
    groupId: group ?? `console-consumer-${Math.floor(Math.random() * 100000)}`,
    maxWaitTimeInMs: 500,
    readUncommitted: o.isolationLevel !== 'read_committed',
    partitionAssigners: o.partition !== undefined ? [onePartition(o.topic!, o.partition, AssignerProtocol)] : [PartitionAssigners.roundRobin],
    retry: { retries: 2 },
  });
  await consumer.connect();
  let pattern: RegExp | undefined;
  if (include) {
    try {
      pattern = new RegExp(`^(?:${include})$`);
    } catch {
      throw new UsageError(`junction console-consumer: --include: not a regular expression: ${include}`);
    }
  }
  await consumer.subscribe({ topics: [pattern ?? o.topic!], fromBeginning });
  if (!process.stdout.isTTY) run.progress = await Progress.start('received');
  const out = process.stdout;
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }: EachMessagePayload) => {
      if (run.isFinished) return;
      out.write(formatter.format({ timestamp: message.timestamp, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers }));
      run.record(topic, partition, message.offset);
    },
  });
  consumer.on(consumer.events.CRASH, (e) => run.fail(kafkaFailure(e.payload.error, [], 'junction console-consumer: the consumer stopped')));
  if (seekTo !== null) consumer.seek({ topic: o.topic!, partition: o.partition!, offset: seekTo });
  if (group) {
    const timer = setInterval(() => void commit(consumer, run).catch(() => undefined), COMMIT_INTERVAL_MS);
    void run.done.then(() => clearInterval(timer));
  }
  return consumer;
}
