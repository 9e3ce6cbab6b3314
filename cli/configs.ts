/**
 * `junction configs`: kafka-configs.sh for topics and brokers. --describe prints Kafka's
 * `Dynamic configs for topic T are:` (or `All configs ...` with --all) and one
 * `  k=v sensitive=false synonyms={SOURCE:k=v, ...}` line per entry. --alter reads the current
 * overrides, applies --add-config/--delete-config and writes the set back (kafkajs has the
 * whole-set AlterConfigs, not the incremental one), then prints `Completed updating config for topic T.`
 */
import type { Admin, ConfigEntries } from 'kafkajs';
import { bootstrapOf, collect, keyValues, newCommand, oneAction, parseArgs } from './args.js';
import { CliError, UsageError } from './errors.js';
import { kafkaClient, kafkaFailure, readProperties } from './kafka/client.js';
import { out } from './output.js';

const ACTIONS = ['describe', 'alter'] as const;
const TOPIC = 2;
const BROKER = 4;
const SOURCES: Record<number, string> = {
  0: 'UNKNOWN', 1: 'DYNAMIC_TOPIC_CONFIG', 2: 'DYNAMIC_BROKER_CONFIG', 3: 'DYNAMIC_DEFAULT_BROKER_CONFIG', 4: 'STATIC_BROKER_CONFIG', 5: 'DEFAULT_CONFIG', 6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
};

interface ConfigsOptions {
  bootstrapServer?: string;
  commandConfig?: string;
  entityType?: string;
  entityName?: string;
  entityDefault?: boolean;
  topic?: string;
  broker?: string;
  describe?: boolean;
  alter?: boolean;
  addConfig?: string[];
  deleteConfig?: string[];
  all?: boolean;
}

export async function configsCommand(argv: string[]): Promise<number> {
  const cmd = newCommand('configs', 'Describe or change topic and broker configurations (kafka-configs.sh).')
    .option('--bootstrap-server <host:port,...>', 'the Kafka listener(s) to connect to (required)')
    .option('--command-config <file>', 'client properties file (security.protocol, sasl.mechanism, sasl.jaas.config)')
    .option('--entity-type <type>', 'topics or brokers')
    .option('--entity-name <name>', 'the topic name or broker id (all topics/brokers when omitted with --describe)')
    .option('--entity-default', 'brokers: the cluster-wide default')
    .option('--topic <name>', 'short for --entity-type topics --entity-name NAME')
    .option('--broker <id>', 'short for --entity-type brokers --entity-name ID')
    .option('--describe', 'show the configuration overrides (all entries with --all)')
    .option('--alter', 'change the configuration (with --add-config / --delete-config)')
    .option('--add-config <k=v,k2=v2>', 'entries to set; values with commas in [brackets] (repeatable)', collect)
    .option('--delete-config <k1,k2>', 'entries to remove (repeatable)', collect)
    .option('--all', 'with --describe: every entry, defaults included');
  if (!parseArgs(cmd, argv)) return 0;
  const o = cmd.opts<ConfigsOptions>();
  const action = oneAction(o, ACTIONS, 'configs');
  const brokers = bootstrapOf(o, 'configs');
  let entityType = o.entityType;
  let entityName = o.entityName;
  if (o.topic !== undefined) [entityType, entityName] = ['topics', o.topic];
  if (o.broker !== undefined) [entityType, entityName] = ['brokers', o.broker];
  if (entityType !== 'topics' && entityType !== 'brokers') {
    throw new UsageError(`junction configs: --entity-type must be topics or brokers${entityType ? ` (got "${entityType}")` : ''}`);
  }
  const type = entityType === 'topics' ? TOPIC : BROKER;
  const label = entityType === 'topics' ? 'topic' : 'broker';
  const add = keyValues(o.addConfig, '--add-config', true);
  const del = (o.deleteConfig ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  if (action === 'alter') {
    if (!entityName && !(o.entityDefault && type === BROKER)) throw new UsageError('junction configs: --alter needs --entity-name');
    if (!add.size && !del.length) throw new UsageError('junction configs: --alter needs --add-config or --delete-config');
  }
  const kafka = await kafkaClient({ brokers, clientId: 'junction-configs', properties: readProperties(o.commandConfig) });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const names = entityName !== undefined ? [entityName] : o.entityDefault ? [''] : type === TOPIC ? (await admin.listTopics()).sort() : (await admin.describeCluster()).brokers.map((b) => String(b.nodeId));
    if (type === TOPIC && entityName !== undefined && !(await admin.listTopics()).includes(entityName)) {
      throw new CliError(`Error while executing config command: topic '${entityName}' does not exist`);
    }
    if (action === 'describe') await describe(admin, type, label, names, o.all === true);
    else await alter(admin, type, label, entityName ?? '', add, del);
    return 0;
  } catch (e) {
    throw kafkaFailure(e, brokers, 'Error while executing config command');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function shown(e: ConfigEntries, type: number, all: boolean): boolean {
  if (all) return true;
  return type === TOPIC ? e.configSource === 1 : e.configSource === 2 || e.configSource === 3;
}

async function describe(admin: Admin, type: number, label: string, names: string[], all: boolean): Promise<void> {
  if (!names.length) return;
  const res = await admin.describeConfigs({ resources: names.map((name) => ({ type, name })), includeSynonyms: true });
  for (const r of res.resources) {
    if (r.errorCode) throw new CliError(`Error while executing config command: ${r.errorMessage ?? `error ${r.errorCode}`}`);
    const what = r.resourceName === '' ? `default ${label}` : `${label} ${r.resourceName}`;
    out(`${all ? 'All' : 'Dynamic'} configs for ${what} are:`);
    for (const e of r.configEntries.filter((x) => shown(x, type, all)).sort((a, b) => a.configName.localeCompare(b.configName))) {
      const synonyms = (e.configSynonyms ?? []).map((s) => `${SOURCES[s.configSource] ?? s.configSource}:${s.configName}=${s.configValue}`).join(', ');
      out(`  ${e.configName}=${e.isSensitive ? null : e.configValue} sensitive=${e.isSensitive} synonyms={${synonyms}}`);
    }
  }
}

async function alter(admin: Admin, type: number, label: string, name: string, add: Map<string, string>, del: string[]): Promise<void> {
  const res = await admin.describeConfigs({ resources: [{ type, name }], includeSynonyms: false });
  const current = new Map<string, string>();
  for (const e of res.resources[0]?.configEntries ?? []) if (shown(e, type, false)) current.set(e.configName, e.configValue);
  for (const k of del) {
    if (!current.has(k)) throw new CliError(`Error while executing config command: Invalid config(s): ${k} (not set on ${label} ${name})`);
    current.delete(k);
  }
  for (const [k, v] of add) current.set(k, v);
  await admin.alterConfigs({ validateOnly: false, resources: [{ type, name, configEntries: [...current].map(([n, value]) => ({ name: n, value })) }] });
  out(`Completed updating config for ${name === '' ? `default ${label}` : `${label} ${name}`}.`);
}
