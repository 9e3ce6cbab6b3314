/**
 * Kafka topics over core streams: name rules, auto-creation, topic configs <-> stream config,
 * and topic ids (Metadata v10+), kept in the core's metadata so they survive restarts.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { Stream, StreamConfig } from '../../core/stream/stream.js';
import { DEFAULT_STREAM_CONFIG, StreamExistsError, StreamLimitError } from '../../core/stream/stream-registry.js';
import type { KafkaSettings } from './config.js';
import { ErrorCode } from './protocol/errors.js';

const NS_TOPIC_ID = 'kafka.topic-id';
const LEGAL = /^[a-zA-Z0-9._-]+$/;
export const MAX_TOPIC_NAME = 249;

export class TopicError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** Kafka's Topic.validate: null when valid, else why not. */
export function topicNameProblem(name: string | null | undefined): string | null {
  if (name === null || name === undefined || name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (name.length > MAX_TOPIC_NAME) return `topic name is longer than ${MAX_TOPIC_NAME} characters`;
  if (!LEGAL.test(name)) return `topic name "${name}" has characters other than ASCII alphanumerics, '.', '_' and '-'`;
  return null;
}

/** Topic configs Kafka defines; the ones Junction does not act on are kept and reported as set. */
const KNOWN_CONFIGS = new Set([
  'cleanup.policy', 'compression.type', 'delete.retention.ms', 'file.delete.delay.ms', 'flush.messages', 'flush.ms',
  'follower.replication.throttled.replicas', 'index.interval.bytes', 'leader.replication.throttled.replicas',
  'local.retention.bytes', 'local.retention.ms', 'max.compaction.lag.ms', 'max.message.bytes',
  'message.downconversion.enable', 'message.format.version', 'message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms', 'message.timestamp.difference.max.ms', 'message.timestamp.type',
  'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate', 'remote.storage.enable',
  'retention.bytes', 'retention.ms', 'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms',
  'unclean.leader.election.enable',
]);

export interface TopicConfigEntry {
  name: string;
  value: string;
  isDefault: boolean;
  readOnly: boolean;
}

function parseLong(name: string, value: string, min: number): number {
  if (!/^-?\d+$/.test(value.trim())) throw new TopicError(ErrorCode.INVALID_CONFIG, `${name} must be an integer, got "${value}"`);
  const n = Number(value.trim());
  if (n < min) throw new TopicError(ErrorCode.INVALID_CONFIG, `${name} must be >= ${min}`);
  return n;
}

/** Applies Kafka topic configs to a stream config patch (validating them). `null` values reset to the default. */
export function applyTopicConfigs(
  configs: Array<{ name: string; value: string | null }>,
  defaults: StreamConfig,
  patch: Partial<StreamConfig> & { extra: Record<string, string> },
): void {
  for (const { name, value } of configs) {
    if (!KNOWN_CONFIGS.has(name)) throw new TopicError(ErrorCode.INVALID_CONFIG, `unknown topic config ${name}`);
    switch (name) {
      case 'retention.ms': patch.retentionMs = value === null ? defaults.retentionMs : parseLong(name, value, -1); break;
      case 'retention.bytes': patch.retentionBytes = value === null ? defaults.retentionBytes : parseLong(name, value, -1); break;
      case 'segment.bytes': patch.segmentBytes = value === null ? defaults.segmentBytes : parseLong(name, value, 14); break;
      case 'cleanup.policy':
        if (value !== null && value.trim() !== 'delete') throw new TopicError(ErrorCode.INVALID_CONFIG, `cleanup.policy=${value} is not supported (only delete)`);
        patch.cleanupPolicy = 'delete';
        break;
      case 'message.timestamp.type':
        if (value !== null && value !== 'CreateTime' && value !== 'LogAppendTime') {
          throw new TopicError(ErrorCode.INVALID_CONFIG, 'message.timestamp.type must be CreateTime or LogAppendTime');
        }
        patch.logAppendTime = value === 'LogAppendTime';
        break;
      default:
        if (name === 'max.message.bytes' && value !== null) parseLong(name, value, 0);
        if (value === null) delete patch.extra[name];
        else patch.extra[name] = value;
    }
  }
}

/** The core's StreamLimitError as Kafka's error: too many for one topic is INVALID_PARTITIONS, the broker's totals POLICY_VIOLATION. */
function limitError(err: unknown): unknown {
  if (!(err instanceof StreamLimitError)) return err;
  return new TopicError(err.limit === 'maxPartitionsPerTopic' ? ErrorCode.INVALID_PARTITIONS : ErrorCode.POLICY_VIOLATION, err.message);
}

export class Topics {
  /** Topic id (hex) -> name, built from the core's metadata on first use. */
  private byId: Map<string, string> | null = null;
  /** Creations under way: concurrent requests for one name wait for the first (the core's create is not atomic across its awaits). */
  private readonly creating = new Map<string, Promise<Stream | null>>();

  constructor(private readonly broker: Broker, private readonly settings: KafkaSettings, private readonly log?: Logger) {}

  get(name: string): Stream | undefined {
    return this.broker.getStream(name);
  }

  /** Every stream whose name is a legal Kafka topic name. */
  all(): Stream[] {
    return [...this.broker.streams()].filter((s) => topicNameProblem(s.name) === null);
  }

  streamDefaults(): StreamConfig {
    return { ...DEFAULT_STREAM_CONFIG, ...this.broker.options.streamDefaults, partitions: this.settings.defaultPartitions };
  }

  /** Creates a topic (Kafka rules: legal name, no collision on '.' vs '_'). */
  /** Copies of a new topic's partitions when the request leaves it to the broker: all the cluster keeps, up to 3. */
  defaultReplicationFactor(): number {
    return Math.min(3, this.broker.cluster.maxReplicationFactor);
  }

  /** `owner`: the user whose client asks; the topic's partitions count for them (limits.maxPartitionsPerUser). */
  async create(name: string, partitions: number, configs: Array<{ name: string; value: string | null }>, validateOnly = false, replicationFactor = this.defaultReplicationFactor(), owner?: string): Promise<Stream | null> {
    const under = this.creating.get(name);
    if (under) {
      await under.catch(() => null);
      if (this.broker.getStream(name)) throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
    }
    const creation = this.createNow(name, partitions, configs, validateOnly, replicationFactor, owner);
    this.creating.set(name, creation);
    try {
      return await creation;
    } finally {
      if (this.creating.get(name) === creation) this.creating.delete(name);
    }
  }

  private async createNow(name: string, partitions: number, configs: Array<{ name: string; value: string | null }>, validateOnly: boolean, replicationFactor: number, owner: string | undefined): Promise<Stream | null> {
    const problem = topicNameProblem(name);
    if (problem) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
    if (this.broker.getStream(name)) throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
    const collision = this.all().find((s) => s.name.replace(/\./g, '_') === name.replace(/\./g, '_'));
    if (collision) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic ${name} collides with existing topic ${collision.name}`);
    if (!Number.isInteger(partitions) || partitions < 1) throw new TopicError(ErrorCode.INVALID_PARTITIONS, 'number of partitions must be larger than 0');
    const patch: Partial<StreamConfig> & { extra: Record<string, string> } = { extra: {} };
    applyTopicConfigs(configs, this.streamDefaults(), patch);
    if (validateOnly) {
      this.checkLimits(name, partitions, partitions, 1, owner);
      return null;
    }
    try {
      const stream = await this.broker.createStream(name, { ...patch, partitions, replicationFactor, owner });
      await this.topicId(name);
      await this.leadersElected(stream);
      return stream;
    } catch (err) {
      if (err instanceof StreamExistsError) throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
      throw limitError(err);
    }
  }

  /** In a cluster, a created topic is answered once each partition has a leader (as Kafka's controller does). */
  private async leadersElected(stream: Stream): Promise<void> {
    const cluster = this.broker.cluster;
    if (!cluster.clustered) return;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && stream.partitions.some((_, p) => cluster.placement(stream.name, p, stream.config.replicationFactor).leader < 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The stream for `name`, created with the default partition count when auto-creation allows it. */
  /** Grows a topic to `total` partitions (the core enforces the partition limits). */
  async addPartitions(name: string, total: number, validateOnly: boolean): Promise<void> {
    const current = this.broker.getStream(name)?.partitions.length ?? 0;
    if (validateOnly) return this.checkLimits(name, total, total - current, 0, this.broker.getStream(name)?.config.owner);
    try {
      await this.broker.addPartitions(name, total);
    } catch (err) {
      throw limitError(err);
    }
  }

  /** The core's limits checked without creating anything (validate_only requests). */
  private checkLimits(name: string, total: number, added: number, newStreams: number, owner: string | undefined): void {
    const { maxPartitionsPerTopic, maxPartitions, maxStreams, maxPartitionsPerUser } = this.broker.options.limits;
    let streams = 0;
    let inUse = 0;
    for (const s of this.broker.streams()) {
      streams++;
      inUse += s.partitions.length;
    }
    if (maxPartitionsPerTopic > 0 && total > maxPartitionsPerTopic) {
      throw new TopicError(ErrorCode.INVALID_PARTITIONS, `topic ${name} may not have ${total} partitions: at most ${maxPartitionsPerTopic} per topic (limits.maxPartitionsPerTopic)`);
    }
    if (maxPartitions > 0 && inUse + added > maxPartitions) {
      throw new TopicError(ErrorCode.POLICY_VIOLATION, `${added} more partitions would exceed the broker's maximum of ${maxPartitions} partitions (limits.maxPartitions)`);
    }
    if (maxStreams > 0 && streams + newStreams > maxStreams) {
      throw new TopicError(ErrorCode.POLICY_VIOLATION, `the broker has its maximum of ${maxStreams} topics (limits.maxStreams)`);
    }
    if (owner !== undefined && maxPartitionsPerUser > 0 && this.broker.partitionsOwnedBy(owner) + added > maxPartitionsPerUser) {
      throw new TopicError(ErrorCode.POLICY_VIOLATION, `${added} more partitions would exceed user ${owner}'s maximum of ${maxPartitionsPerUser} partitions (limits.maxPartitionsPerUser)`);
    }
  }

  /**
   * The stream for `name`, created with the default partition count when auto-creation allows it
   * (`kafka.autoCreateTopics`, Kafka's auto.create.topics.enable): `via` says which request asked
   * (a Metadata request allowing it, or a Produce), for the log line.
   * Throws TopicError (POLICY_VIOLATION, INVALID_PARTITIONS) when a broker limit refuses the creation.
   */
  async getOrCreate(name: string, allowCreate: boolean, via = 'metadata', owner?: string): Promise<Stream | undefined> {
    const existing = this.broker.getStream(name);
    if (existing || !allowCreate || !this.settings.autoCreateTopics || topicNameProblem(name)) return existing;
    try {
      const created = (await this.create(name, this.settings.defaultPartitions, [], false, this.defaultReplicationFactor(), owner)) ?? undefined;
      if (created) this.log?.info({ topic: name, partitions: created.partitions.length, via }, 'kafka topic auto-created');
      return created;
    } catch (err) {
      if (err instanceof TopicError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS) return this.broker.getStream(name);
      if (err instanceof TopicError && (err.code === ErrorCode.POLICY_VIOLATION || err.code === ErrorCode.INVALID_PARTITIONS)) throw err;
      if (err instanceof TopicError) return undefined;
      throw err;
    }
  }

  async delete(name: string): Promise<boolean> {
    const deleted = await this.broker.deleteStream(name);
    const id = this.broker.metadata.get(NS_TOPIC_ID, name);
    if (deleted && id) {
      this.byId?.delete(id.toString('hex'));
      await this.broker.metadata.delete(NS_TOPIC_ID, name);
    }
    return deleted;
  }

  /** The topic's id, assigned on first use (topics created by other protocols get one lazily). */
  async topicId(name: string): Promise<Buffer> {
    const known = this.broker.metadata.get(NS_TOPIC_ID, name);
    if (known) return known;
    const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
    this.byId?.set(id.toString('hex'), name);
    await this.broker.metadata.put(NS_TOPIC_ID, name, id);
    return id;
  }

  /** The id if one was assigned already (no write). */
  knownTopicId(name: string): Buffer | undefined {
    return this.broker.metadata.get(NS_TOPIC_ID, name);
  }

  /** The topic with this id, if it still exists. */
  nameOfId(id: Buffer): string | undefined {
    if (!this.byId) {
      this.byId = new Map();
      for (const [name, value] of this.broker.metadata.entries(NS_TOPIC_ID)) this.byId.set(value.toString('hex'), name);
    }
    const name = this.byId.get(id.toString('hex'));
    return name !== undefined && this.broker.getStream(name) ? name : undefined;
  }

  /** Kafka's view of a topic's configs (DescribeConfigs). */
  describe(stream: Stream): TopicConfigEntry[] {
    const d = this.streamDefaults();
    const c = stream.config;
    const entry = (name: string, value: string, isDefault: boolean, readOnly = false): TopicConfigEntry => ({ name, value, isDefault, readOnly });
    const out: TopicConfigEntry[] = [
      entry('cleanup.policy', 'delete', true),
      entry('retention.ms', String(c.retentionMs), c.retentionMs === d.retentionMs),
      entry('retention.bytes', String(c.retentionBytes), c.retentionBytes === d.retentionBytes),
      entry('segment.bytes', String(c.segmentBytes), c.segmentBytes === d.segmentBytes),
      entry('message.timestamp.type', c.logAppendTime ? 'LogAppendTime' : 'CreateTime', !c.logAppendTime),
      entry('max.message.bytes', c.extra['max.message.bytes'] ?? String(this.settings.maxMessageBytes), c.extra['max.message.bytes'] === undefined),
      entry('compression.type', c.extra['compression.type'] ?? 'producer', c.extra['compression.type'] === undefined),
      entry('min.insync.replicas', c.extra['min.insync.replicas'] ?? '1', c.extra['min.insync.replicas'] === undefined),
    ];
    const shown = new Set(out.map((e) => e.name));
    for (const [k, v] of Object.entries(c.extra)) if (!shown.has(k) && KNOWN_CONFIGS.has(k)) out.push(entry(k, v, false));
    return out;
  }

  /** The record batch size limit of a topic (its max.message.bytes, else the broker's). */
  maxMessageBytes(stream: Stream): number {
    const v = stream.config.extra['max.message.bytes'];
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : this.settings.maxMessageBytes;
  }
}
