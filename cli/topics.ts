/**
 * `junction topics`: kafka-topics.sh over the Kafka wire protocol (Junction or any Kafka broker).
 * Same flags, same output: `Created topic T.`, one name per line for --list, and --describe's
 * `Topic: T<TAB>TopicId: ..<TAB>PartitionCount: N<TAB>ReplicationFactor: R<TAB>Configs: k=v,...`
 * then one `<TAB>Topic: T<TAB>Partition: P<TAB>Leader: L<TAB>Replicas: ..<TAB>Isr: ..` per partition.
 */
import type { Admin, ITopicMetadata } from 'kafkajs';
import { bootstrapOf, collect, integer, keyValues, newCommand, oneAction, parseArgs } from './args.js';
import { CliError, UsageError } from './errors.js';
import { kafkaClient, kafkaErrorType, kafkaFailure, readProperties } from './kafka/client.js';
import { createTopicRefusal, fetchTopicIds } from './kafka/raw-request.js';
import { out } from './output.js';

const ACTIONS = ['create', 'list', 'describe', 'delete', 'alter'] as const;

interface TopicsOptions {
  bootstrapServer?: string;
  commandConfig?: string;
  topic?: string;
  partitions?: number;
  replicationFactor?: number;
  config?: string[];
  ifNotExists?: boolean;
  ifExists?: boolean;
  excludeInternal?: boolean;
  underReplicatedPartitions?: boolean;
  unavailablePartitions?: boolean;
  topicsWithOverrides?: boolean;
}

export async function topicsCommand(argv: string[]): Promise<number> {
  const cmd = newCommand('topics', 'Create, delete, describe, list or change topics (kafka-topics.sh).')
    .option('--bootstrap-server <host:port,...>', 'the Kafka listener(s) to connect to (required)')
    .option('--command-config <file>', 'client properties file (security.protocol, sasl.mechanism, sasl.jaas.config)')
    .option('--create', 'create a new topic')
    .option('--list', 'list all topics')
    .option('--describe', 'describe topics (all, or those --topic names)')
    .option('--delete', 'delete a topic')
    .option('--alter', 'change the number of partitions of a topic')
    .option('--topic <name>', 'the topic (a regular expression for --list/--describe/--delete/--alter)')
    .option('--partitions <n>', 'partitions for --create (broker default when omitted) or the new count for --alter', integer(1))
    .option('--replication-factor <n>', 'replication factor for --create (broker default when omitted)', integer(1, 32767))
    .option('--config <key=value>', 'a topic configuration override for --create (repeatable)', collect)
    .option('--if-not-exists', 'with --create: do nothing when the topic exists')
    .option('--if-exists', 'with --alter/--delete/--describe: do nothing when the topic does not exist')
    .option('--exclude-internal', 'leave internal topics out of --list/--describe')
    .option('--under-replicated-partitions', 'with --describe: only partitions whose ISR is smaller than the replicas')
    .option('--unavailable-partitions', 'with --describe: only partitions without a leader')
    .option('--topics-with-overrides', 'with --describe: only topics with configuration overrides');
  if (!parseArgs(cmd, argv)) return 0;
  const o = cmd.opts<TopicsOptions>();
  const action = oneAction(o, ACTIONS, 'topics');
  const brokers = bootstrapOf(o, 'topics');
  const configs = keyValues(o.config, '--config');
  if (configs.size && action !== 'create') throw new UsageError('junction topics: --config only goes with --create (use junction configs --alter for existing topics)');
  if ((action === 'create' || action === 'delete' || action === 'alter') && !o.topic) throw new UsageError(`junction topics: --${action} needs --topic`);
  if (action === 'alter' && o.partitions === undefined) throw new UsageError('junction topics: --alter needs --partitions');

  const kafka = await kafkaClient({ brokers, clientId: 'junction-topics', properties: readProperties(o.commandConfig) });
  const admin = kafka.admin();
  try {
    await admin.connect();
    switch (action) {
      case 'create': await create(admin, o, configs, brokers[0]); break;
      case 'list': out((await selectTopics(admin, o)).join('\n'), true); break;
      case 'describe': await describe(admin, o, brokers[0]); break;
      case 'delete': await remove(admin, o); break;
      case 'alter': await alter(admin, o); break;
    }
    return 0;
  } catch (err) {
    throw kafkaFailure(err, brokers, 'Error while executing topic command '); // Kafka's wording has " : "
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function create(admin: Admin, o: TopicsOptions, configs: Map<string, string>, broker: string): Promise<void> {
  const topic = o.topic!;
  let created: boolean;
  const request = { numPartitions: o.partitions ?? -1, replicationFactor: o.replicationFactor ?? -1, configs: [...configs].map(([name, value]) => ({ name, value })) };
  try {
    created = await admin.createTopics({ topics: [{ topic, numPartitions: request.numPartitions, replicationFactor: request.replicationFactor, configEntries: request.configs }] });
  } catch (err) {
    const type = kafkaErrorType(err);
    if (type === 'TOPIC_ALREADY_EXISTS') created = false;
    else {
      const why = type ? await createTopicRefusal(broker, { name: topic, ...request }) : null;
      if (why) throw new CliError(`Error while executing topic command : ${why}`);
      throw err;
    }
  }
  if (!created) {
    if (o.ifNotExists) return;
    throw new CliError(`Error while executing topic command : Topic '${topic}' already exists.`);
  }
  out(`Created topic ${topic}.`);
}

/** The topics --topic selects (a name or a regular expression, as Kafka's tool reads it), sorted. */
async function selectTopics(admin: Admin, o: TopicsOptions): Promise<string[]> {
  let names = (await admin.listTopics()).sort();
  if (o.excludeInternal) names = names.filter((n) => !n.startsWith('__'));
  if (o.topic === undefined) return names;
  let pattern: RegExp;
  try {
    pattern = new RegExp(`^(?:${o.topic})$`);
  } catch {
    pattern = new RegExp(`^${o.topic.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  }
  return names.filter((n) => n === o.topic || pattern.test(n));
}

async function existingOrFail(admin: Admin, o: TopicsOptions): Promise<string[]> {
  const topics = await selectTopics(admin, o);
  if (topics.length === 0 && o.topic !== undefined && !o.ifExists) {
    throw new CliError(`Error while executing topic command : Topic '${o.topic}' does not exist as expected`);
  }
  return topics;
}

async function describe(admin: Admin, o: TopicsOptions, broker: string): Promise<void> {
  const topics = await existingOrFail(admin, o);
  if (topics.length === 0) return;
  const [{ topics: metadata }, configs, ids] = await Promise.all([
    admin.fetchTopicMetadata({ topics }),
    admin.describeConfigs({ resources: topics.map((name) => ({ type: 2, name })), includeSynonyms: false }),
    fetchTopicIds(broker),
  ]);
  const overrides = new Map<string, string>();
  for (const r of configs.resources) {
    overrides.set(r.resourceName, r.configEntries.filter((e) => !e.isDefault).map((e) => `${e.configName}=${e.configValue ?? ''}`).join(','));
  }
  const byName = new Map(metadata.map((t) => [t.name, t]));
  const lines: string[] = [];
  for (const name of topics) {
    const t = byName.get(name);
    if (!t) continue;
    const config = overrides.get(name) ?? '';
    if (o.topicsWithOverrides && !config) continue;
    const partitions = [...t.partitions].sort((a, b) => a.partitionId - b.partitionId);
    const filtered = partitions.filter((p) => (!o.underReplicatedPartitions || p.isr.length < p.replicas.length) && (!o.unavailablePartitions || p.leader < 0));
    const partitionFilter = o.underReplicatedPartitions || o.unavailablePartitions;
    if (!partitionFilter) lines.push(topicLine(t, ids.get(name), config));
    for (const p of filtered) {
      lines.push(`\tTopic: ${name}\tPartition: ${p.partitionId}\tLeader: ${p.leader < 0 ? 'none' : p.leader}\tReplicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}`);
    }
  }
  out(lines.join('\n'), true);
}

function topicLine(t: ITopicMetadata, id: string | undefined, config: string): string {
  const rf = t.partitions[0]?.replicas.length ?? 0;
  return `Topic: ${t.name}${id ? `\tTopicId: ${id}` : ''}\tPartitionCount: ${t.partitions.length}\tReplicationFactor: ${rf}\tConfigs: ${config}`;
}

async function remove(admin: Admin, o: TopicsOptions): Promise<void> {
  const topics = await existingOrFail(admin, o);
  if (topics.length) await admin.deleteTopics({ topics });
}

async function alter(admin: Admin, o: TopicsOptions): Promise<void> {
  const topics = await existingOrFail(admin, o);
  if (topics.length === 0) return;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  for (const t of metadata) {
    if (t.partitions.length === o.partitions) continue;
    if (t.partitions.length > o.partitions!) {
      throw new CliError(`Error while executing topic command : Topic currently has ${t.partitions.length} partitions, which is higher than the requested ${o.partitions}.`);
    }
  }
  await admin.createPartitions({ topicPartitions: metadata.filter((t) => t.partitions.length !== o.partitions).map((t) => ({ topic: t.name, count: o.partitions! })) });
}
