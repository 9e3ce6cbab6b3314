/**
 * `junction console-producer`: kafka-console-producer.sh. One record per stdin line, sent in
 * batches of the lines that have arrived, each batch acknowledged before the next (so order is
 * kept and an exit after end of input means every record was acknowledged). A batch the broker
 * refuses for one of its records (too large, invalid) is sent again record by record, as Kafka's
 * producer splits it: an error line per refused record, the others delivered, exit 1 at the end.
 * Any other failure (broker gone, not authorized) ends the run with one line and exit 1.
 */
import type { CompressionTypes, Message } from 'kafkajs';
import { bootstrapOf, collect, integer, keyValues, newCommand, parseArgs } from './args.js';
import { CliError, rootMessage, UsageError } from './errors.js';
import { checkWritableTopic, kafkaClient, kafkaErrorType, kafkaFailure, readProperties } from './kafka/client.js';
import { CODEC_NAMES } from './kafka/codecs.js';
import { LineReader } from './kafka/record-format.js';
import { forEachLineBatch } from './lines.js';
import { err, Progress } from './output.js';

interface ProducerOptions {
  bootstrapServer?: string;
  brokerList?: string;
  topic: string;
  property?: string[];
  producerProperty?: string[];
  producerConfig?: string;
  compressionCodec?: string | true;
  requestRequiredAcks?: string;
  batchSize?: number;
  timeout?: number;
  sync?: boolean;
}

/** Errors that refuse a record, not the connection: Kafka's producer reports them per record. */
const RECORD_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP', 'INVALID_REQUIRED_ACKS']);

/** Kafka's ErrorLoggingCallback: `null` or `N bytes`. */
function sizeOf(b: Buffer | string | null | undefined): string {
  return b === null || b === undefined ? 'null' : `${Buffer.byteLength(b)} bytes`;
}

const ACKS: Record<string, -1 | 0 | 1> = { all: -1, '-1': -1, '1': 1, '0': 0 };

export async function consoleProducerCommand(argv: string[]): Promise<number> {
  const cmd = newCommand('console-producer', 'Send each line of stdin as a record to a Kafka topic (kafka-console-producer.sh).')
    .option('--bootstrap-server <host:port,...>', 'the Kafka listener(s) to connect to (required, or --broker-list)')
    .option('--broker-list <host:port,...>', 'older name of --bootstrap-server')
    .requiredOption('--topic <name>', 'the topic to write to (required)')
    .option('--property <key=value>', 'line reader property: parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, null.marker, ignore.error (repeatable)', collect)
    .option('--producer-property <key=value>', 'producer property: acks, compression.type, client.id, security settings (repeatable)', collect)
    .option('--producer.config <file>', 'producer properties file')
    .option('--command-config <file>', 'same as --producer.config')
    .option('--compression-codec [codec]', 'none, gzip (the default when given without value), snappy, lz4 or zstd')
    .option('--request-required-acks <acks>', 'all/-1 (default), 1 or 0')
    .option('--batch-size <n>', 'most records per request (default 1000)', integer(1))
    .option('--timeout <ms>', 'accepted for compatibility (batches are sent as lines arrive)', integer(0))
    .option('--sync', 'accepted for compatibility (batches are always acknowledged in order)');
  if (!parseArgs(cmd, argv)) return 0;
  const o = cmd.opts<ProducerOptions & { 'producer.config'?: string; commandConfig?: string }>();
  const brokers = bootstrapOf(o, 'console-producer');
  const props = readProperties(o['producer.config'] ?? o.commandConfig);
  for (const [k, v] of keyValues(o.producerProperty, '--producer-property')) props.set(k, v);
  const reader = new LineReader(keyValues(o.property, '--property', false, true));
  const acksName = String(o.requestRequiredAcks ?? props.get('acks') ?? 'all').toLowerCase();
  const acks = ACKS[acksName];
  if (acks === undefined) throw new UsageError(`junction console-producer: --request-required-acks: expected all, -1, 1 or 0, got "${acksName}"`);
  const codecName = (o.compressionCodec === true ? 'gzip' : o.compressionCodec ?? props.get('compression.type') ?? 'none').toLowerCase();
  const compression = CODEC_NAMES[codecName];
  if (compression === undefined) throw new UsageError(`junction console-producer: --compression-codec: expected none, gzip, snappy, lz4 or zstd, got "${codecName}"`);

  const kafka = await kafkaClient({ brokers, clientId: 'console-producer', properties: props });
  const { Partitioners } = await import('kafkajs');
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  const progress = process.stdin.isTTY ? null : await Progress.start('sent');
  let acknowledged = 0;
  let refused = 0;
  try {
    await checkWritableTopic(kafka, o.topic, 'console-producer');
    await producer.connect();
    if (process.stdin.isTTY) process.stderr.write('>');
    await forEachLineBatch(async (lines, first) => {
      const messages: Message[] = lines.map((line, i) => {
        const r = reader.read(line, first + i);
        return { key: r.key, value: r.value, headers: r.headers };
      });
      const send = (batch: Message[]) => producer.send({ topic: o.topic, messages: batch, acks, compression: compression as CompressionTypes });
      const fatal = (err: unknown, n: number) => {
        const f = kafkaFailure(err, brokers, `Error when sending ${n} record(s) to topic ${o.topic}`);
        return new CliError(`${f.message}${acknowledged ? ` (${acknowledged} record(s) before them were acknowledged)` : ''}`);
      };
      try {
        await send(messages);
        acknowledged += messages.length;
        progress?.add(messages.length);
      } catch (refusal) {
        if (!RECORD_ERRORS.has(kafkaErrorType(refusal) ?? '')) throw fatal(refusal, messages.length);
        for (const m of messages) {
          try {
            await send([m]);
            acknowledged++;
            progress?.add(1);
          } catch (e) {
            if (!RECORD_ERRORS.has(kafkaErrorType(e) ?? '')) throw fatal(e, 1);
            refused++;
            progress?.clearLine();
            err(`Error when sending message to topic ${o.topic} with key: ${sizeOf(m.key)}, value: ${sizeOf(m.value)} with error: ${rootMessage(e)} (${kafkaErrorType(e)})`);
          }
        }
      }
      if (process.stdin.isTTY) process.stderr.write('>');
    }, o.batchSize ?? 1000);
    return refused ? 1 : 0;
  } catch (err) {
    throw kafkaFailure(err, brokers, 'junction console-producer');
  } finally {
    progress?.stop();
    await producer.disconnect().catch(() => undefined);
  }
}
