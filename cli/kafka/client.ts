/**
 * The Kafka client behind the Kafka tools: kafkajs (maintained, pure JavaScript, works on Node 20,
 * already the suite's Kafka client), silent (its own logging off), with short retries so an
 * unreachable broker is reported in seconds, and its errors turned into one line.
 */
import { readFileSync } from 'node:fs';
import type { Kafka, KafkaConfig, SASLOptions } from 'kafkajs';
import { CliError, errorChain, networkReason, rootMessage } from '../errors.js';
import { registerCodecs } from './codecs.js';

export interface KafkaConnectOptions {
  brokers: string[];
  clientId: string;
  /** Kafka client properties (--command-config file, --producer-property, --consumer-property). */
  properties?: Map<string, string>;
  /** TLS settings that win over the properties' (send/receive --ca, --insecure). */
  ssl?: KafkaConfig['ssl'];
}

export async function kafkaClient(o: KafkaConnectOptions): Promise<Kafka> {
  const { Kafka, logLevel } = await import('kafkajs');
  await registerCodecs();
  const config: KafkaConfig = {
    clientId: o.properties?.get('client.id') ?? o.clientId,
    brokers: o.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    ...securityOf(o.properties ?? new Map()),
  };
  if (o.ssl && config.ssl) config.ssl = o.ssl;
  return new Kafka(config);
}

/** Reads a Java-style properties file (--command-config). */
export function readProperties(file: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!file) return out;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const at = line.search(/[=:]/);
    if (at > 0) out.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return out;
}

/** security.protocol, sasl.mechanism and the username/password of sasl.jaas.config. */
function securityOf(p: Map<string, string>): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const protocol = (p.get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const ca = p.get('ssl.truststore.location') ?? p.get('ssl.ca.location');
    out.ssl = ca ? { ca: readFileSync(ca) } : p.get('ssl.endpoint.identification.algorithm') === '' ? { rejectUnauthorized: false } : true;
  }
  if (protocol.startsWith('SASL_')) {
    const jaas = p.get('sasl.jaas.config') ?? '';
    const username = /username="([^"]*)"/.exec(jaas)?.[1] ?? p.get('sasl.username') ?? '';
    const password = /password="([^"]*)"/.exec(jaas)?.[1] ?? p.get('sasl.password') ?? '';
    const mechanism = (p.get('sasl.mechanism') ?? 'PLAIN').toLowerCase();
    if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(mechanism)) throw new CliError(`sasl.mechanism ${mechanism} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`);
    out.sasl = { mechanism, username, password } as SASLOptions;
  }
  return out;
}

/** The Kafka error code name (UNKNOWN_TOPIC_OR_PARTITION ...) somewhere in the chain, if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of errorChain(err)) if (typeof e.type === 'string') return e.type;
  return undefined;
}

/** One line for a kafkajs failure: unreachable broker, or the broker's own reason. */
export function kafkaFailure(err: unknown, brokers: string[], what: string): CliError {
  if (err instanceof CliError) return err;
  const net = networkReason(err);
  if (net) {
    // Reachable, but it hung up: what a listener that needs SASL (or TLS) does to a client without.
    const hint = /closed connection/i.test(net) ? ' (does the listener need TLS or SASL? see --command-config)' : '';
    return new CliError(`cannot reach the Kafka broker at ${brokers.join(',')}: ${net}${hint}`);
  }
  const type = kafkaErrorType(err);
  return new CliError(`${what}: ${rootMessage(err)}${type ? ` (${type})` : ''}`);
}

/**
 * Fails fast, with one clear line, when `topic` does not exist and the broker will not create it
 * on first use (auto.create.topics.enable=false); kafkajs would retry for half a minute and then
 * report "Broker not connected".
 */
export async function checkWritableTopic(kafka: Kafka, topic: string, tool: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    if ((await admin.listTopics()).includes(topic)) return;
    const { brokers: [first] } = await admin.describeCluster();
    const res = await admin.describeConfigs({ resources: [{ type: 4, name: String(first?.nodeId ?? 0), configNames: ['auto.create.topics.enable'] }], includeSynonyms: false }).catch(() => null);
    const auto = res?.resources[0]?.configEntries.find((e) => e.configName === 'auto.create.topics.enable')?.configValue;
    if (auto === 'false') throw new CliError(`junction ${tool}: topic '${topic}' does not exist (and the broker does not create topics on first use)`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
