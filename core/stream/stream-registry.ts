/**
 * Creates, recovers, reconfigures and deletes streams, persisting their definitions as metadata,
 * within broker-wide limits on streams and partitions (each partition costs files and memory, so
 * no client may create them without bound). Recovery never enforces the limits.
 */
import type { MetadataStore } from '../metadata.js';
import { checkTopicName } from '../names.js';
import type { Store } from '../store.js';
import { StreamPartition } from './partition.js';
import { Stream, StreamConfig } from './stream.js';

const NS = 'stream';

export const DEFAULT_STREAM_CONFIG: StreamConfig = {
  partitions: 1,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  segmentBytes: 64 * 1024 * 1024,
  logAppendTime: false,
  cleanupPolicy: 'delete',
  patterns: [],
  extra: {},
  replicationFactor: 1,
};

/** What the broker does when another node of a cluster creates, changes or deletes a stream. */
export interface StreamChangeHooks {
  added(stream: Stream): void;
  changed(stream: Stream): void;
  removed(name: string): void;
}

/** 0 = no limit. */
export interface StreamLimits {
  maxStreams: number;
  /** Partitions of all streams together. */
  maxPartitions: number;
  maxPartitionsPerTopic: number;
  /** Partitions of the streams one user's clients created (StreamConfig.owner), all together. */
  maxPartitionsPerUser: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxStreams: 10000, maxPartitions: 10000, maxPartitionsPerTopic: 1000, maxPartitionsPerUser: 0 };

export class StreamExistsError extends Error {
  override readonly name = 'StreamExistsError';
}

/** A create or partition increase past a StreamLimits bound; `limit` names the bound. */
export class StreamLimitError extends RangeError {
  override readonly name = 'StreamLimitError';
  constructor(readonly limit: keyof StreamLimits, message: string) {
    super(message);
  }
}

export class StreamRegistry {
  private readonly streams = new Map<string, Stream>();
  /** Names being created: opening partitions spans awaits, and a second create must fail, not replace. */
  private readonly creating = new Set<string>();
  /** Partitions of every stream plus those being created or added (reserved before their awaits). */
  private partitionCount = 0;
  /** Partitions reserved per owner by creations and increases under way (before their awaits). */
  private readonly ownerReserved = new Map<string, number>();

  /** Remote changes are applied one at a time, in the order they arrive. */
  private remoteChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly metadata: MetadataStore,
    private readonly defaults: StreamConfig,
    private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  ) {}

  /** Partitions of all streams (and of creations under way). */
  get totalPartitions(): number {
    return this.partitionCount;
  }

  /** Keeps this node's streams in step with the definitions other nodes write (cluster backend). */
  followRemoteChanges(hooks: StreamChangeHooks, onError: (err: unknown) => void): void {
    this.metadata.onRemoteChange(NS, (name, bytes) => {
      this.remoteChain = this.remoteChain.then(() => this.applyRemote(name, bytes, hooks)).catch(onError);
    });
  }

  private async applyRemote(name: string, bytes: Buffer | undefined, hooks: StreamChangeHooks): Promise<void> {
    const existing = this.streams.get(name);
    if (bytes === undefined) {
      if (await this.unload(name)) hooks.removed(name);
      return;
    }
    if (!existing) {
      hooks.added(await this.load(name, bytes));
      return;
    }
    const config = this.configOf(bytes);
    for (let p = existing.partitions.length; p < config.partitions; p++) {
      existing.partitions.push(await this.openPartition(name, p, () => existing.config.logAppendTime, config));
      this.partitionCount++;
    }
    existing.config = config;
    hooks.changed(existing);
  }

  async recover(): Promise<Stream[]> {
    for (const [name, bytes] of this.metadata.entries(NS)) await this.load(name, bytes);
    return [...this.streams.values()];
  }

  private configOf(bytes: Buffer): StreamConfig {
    return { ...this.defaults, ...(JSON.parse(bytes.toString('utf8')) as Partial<StreamConfig>) };
  }

  /** Builds a stream from its stored definition (recovery, another node's creation); limits are not enforced. */
  private async load(name: string, bytes: Buffer): Promise<Stream> {
    const stream = await this.build(name, this.configOf(bytes));
    this.streams.set(name, stream);
    this.partitionCount += stream.partitions.length;
    return stream;
  }

  /** Drops a stream from this registry and closes its partitions (its stored data stays). */
  private async unload(name: string): Promise<Stream | undefined> {
    const stream = this.streams.get(name);
    if (!stream) return undefined;
    this.streams.delete(name);
    this.partitionCount -= stream.partitions.length;
    await this.closePartitions(stream);
    return stream;
  }

  private async closePartitions(stream: Stream): Promise<void> {
    for (const p of stream.partitions) {
      p.wakeAll();
      await p.log.close();
    }
  }

  get(name: string): Stream | undefined {
    return this.streams.get(name);
  }

  all(): IterableIterator<Stream> {
    return this.streams.values();
  }

  async create(name: string, config: Partial<StreamConfig>): Promise<Stream> {
    checkTopicName(name);
    if (this.streams.has(name) || this.creating.has(name)) throw new StreamExistsError(`stream ${name} already exists`);
    const full: StreamConfig = { ...this.defaults, ...config, extra: { ...(config.extra ?? {}) }, patterns: [...(config.patterns ?? [])] };
    if (!Number.isInteger(full.partitions) || full.partitions < 1) throw new RangeError('partitions must be a positive integer');
    const { maxStreams } = this.limits;
    if (maxStreams > 0 && this.streams.size + this.creating.size >= maxStreams) {
      throw new StreamLimitError('maxStreams', `stream ${name} not created: the broker has its maximum of ${maxStreams} streams (limits.maxStreams)`);
    }
    if (full.owner === undefined) delete full.owner;
    this.checkPartitions(name, full.partitions, full.partitions, full.owner);
    this.creating.add(name);
    this.partitionCount += full.partitions;
    this.reserve(full.owner, full.partitions);
    let stream: Stream | undefined;
    try {
      stream = await this.build(name, full);
      this.streams.set(name, stream);
      await this.metadata.putJson(NS, name, full);
      return stream;
    } finally {
      this.creating.delete(name);
      this.reserve(full.owner, -full.partitions);
      if (!stream) this.partitionCount -= full.partitions;
    }
  }

  /** Partitions of the streams `owner` created, and of its creations under way. */
  partitionsOwnedBy(owner: string): number {
    let n = this.ownerReserved.get(owner) ?? 0;
    for (const s of this.streams.values()) if (s.config.owner === owner) n += s.partitions.length;
    return n;
  }

  private reserve(owner: string | undefined, n: number): void {
    if (owner === undefined) return;
    const left = (this.ownerReserved.get(owner) ?? 0) + n;
    if (left === 0) this.ownerReserved.delete(owner);
    else this.ownerReserved.set(owner, left);
  }

  /** Throws StreamLimitError if `name` may not have `total` partitions, `added` of them new (counted for `owner`). */
  private checkPartitions(name: string, total: number, added: number, owner: string | undefined): void {
    const { maxPartitionsPerTopic, maxPartitions, maxPartitionsPerUser } = this.limits;
    if (maxPartitionsPerTopic > 0 && total > maxPartitionsPerTopic) {
      throw new StreamLimitError('maxPartitionsPerTopic', `stream ${name} may not have ${total} partitions: at most ${maxPartitionsPerTopic} per stream (limits.maxPartitionsPerTopic)`);
    }
    if (maxPartitions > 0 && this.partitionCount + added > maxPartitions) {
      throw new StreamLimitError('maxPartitions', `${added} more partitions for ${name} would exceed the broker's maximum of ${maxPartitions} partitions (limits.maxPartitions; ${this.partitionCount} in use)`);
    }
    if (owner !== undefined && maxPartitionsPerUser > 0) {
      const owned = this.partitionsOwnedBy(owner);
      if (owned + added > maxPartitionsPerUser) {
        throw new StreamLimitError('maxPartitionsPerUser', `${added} more partitions for ${name} would exceed user ${owner}'s maximum of ${maxPartitionsPerUser} partitions (limits.maxPartitionsPerUser; ${owned} in use)`);
      }
    }
  }

  async addPartitions(name: string, total: number): Promise<void> {
    const stream = this.require(name);
    if (total <= stream.partitions.length) throw new RangeError(`stream ${name} already has ${stream.partitions.length} partitions`);
    const added = total - stream.partitions.length;
    // A stream's partitions count for the user who created it, whoever adds them.
    const owner = stream.config.owner;
    this.checkPartitions(name, total, added, owner);
    this.partitionCount += added;
    this.reserve(owner, added);
    const before = stream.partitions.length;
    try {
      for (let p = stream.partitions.length; p < total; p++) {
        stream.partitions.push(await this.openPartition(stream.name, p, () => stream.config.logAppendTime, stream.config));
        this.reserve(owner, -1); // now counted in the stream
      }
    } finally {
      this.partitionCount -= added - (stream.partitions.length - before);
      this.reserve(owner, -(added - (stream.partitions.length - before)));
    }
    stream.config = { ...stream.config, partitions: total };
    await this.metadata.putJson(NS, name, stream.config);
  }

  async reconfigure(name: string, patch: Partial<StreamConfig>): Promise<void> {
    const stream = this.require(name);
    stream.config = { ...stream.config, ...patch, partitions: stream.config.partitions };
    await this.metadata.putJson(NS, name, stream.config);
  }

  async delete(name: string): Promise<boolean> {
    if (!(await this.unload(name))) return false;
    await this.metadata.delete(NS, name);
    await this.store.deleteStream(name);
    return true;
  }

  async applyRetention(now: number): Promise<void> {
    for (const s of this.streams.values()) for (const p of s.partitions) await p.applyRetention(s.config, now);
  }

  async close(): Promise<void> {
    for (const s of this.streams.values()) await this.closePartitions(s);
    this.streams.clear();
    this.partitionCount = 0;
  }

  private require(name: string): Stream {
    const s = this.streams.get(name);
    if (!s) throw new RangeError(`stream ${name} does not exist`);
    return s;
  }

  private async build(name: string, config: StreamConfig): Promise<Stream> {
    const partitions: StreamPartition[] = [];
    const stream = new Stream(name, config, partitions);
    for (let p = 0; p < config.partitions; p++) partitions.push(await this.openPartition(name, p, () => stream.config.logAppendTime, config));
    return stream;
  }

  private async openPartition(name: string, p: number, logAppendTime: () => boolean, config: StreamConfig): Promise<StreamPartition> {
    return new StreamPartition(name, p, await this.store.openPartition(name, p, config), logAppendTime);
  }
}
