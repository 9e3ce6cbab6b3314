/**
 * The storage seam. The broker keeps its live state in memory and writes every durable change
 * through a Store: a journal (queue messages, acks and namespaced metadata) and one log per
 * stream partition. The embedded FileStore keeps both in --data-dir; MemoryStore serves tests;
 * a distributed engine can implement the same interface later.
 *
 * Durability: every returned promise resolves only once the change is stored as the fsync policy
 * asks (`always`: fsynced, group commit; `interval`: written to the OS, fsynced on a timer;
 * `never`: written to the OS). Written data survives `kill -9` under every policy.
 */
import type { LatencyHistogram } from './latency-histogram.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export type JournalEntry =
  /** Namespaced metadata: queue definitions, bindings, sessions, retained messages, group offsets... */
  | { kind: 'put'; ns: string; key: string; value: Buffer }
  | { kind: 'del'; ns: string; key: string }
  /** A durable message placed in one or more durable queues (ids from the queue definitions). */
  | { kind: 'enqueue'; seq: number; queues: number[]; message: Buffer }
  /** The message `seq` left queue `queue` (acked, expired, dead-lettered or moved). */
  | { kind: 'ack'; seq: number; queue: number }
  /**
   * Message `seq` was handed to a consumer of queue `queue` that must acknowledge it: `count` is its
   * delivery count should this delivery fail (a crash included), so max-deliveries holds across restarts.
   */
  | { kind: 'deliver'; seq: number; queue: number; count: number };

export interface RecoveredMessage {
  seq: number;
  /** Queues the message is still in, in the order they were given. */
  queues: number[];
  message: Buffer;
  /** Delivery count per queue (aligned with `queues`) from the last `deliver` entries; absent = never delivered. */
  deliveryCounts?: number[];
}

/** What the broker keeps in memory of a queued message whose body stays on disk (a paged message). */
export interface MessageSummary {
  priority?: number;
  expiry?: number;
  /** The message's size as core/message.ts messageSize() counts it (queue byte bounds). */
  size: number;
}

/** A message recovered without its body (open with `summarize`): readMessages() reads it back. */
export interface PagedMessage {
  seq: number;
  queues: number[];
  summary: MessageSummary;
  deliveryCounts?: number[];
}

/** One recovered paged message in one of its queues (StoreRecovery.eachPaged). */
export type PagedVisitor = (seq: number, queue: number, size: number, priority: number | undefined, expiry: number | undefined, deliveryCount: number) => void;

export interface OpenOptions {
  /**
   * Recover queue messages without keeping their bodies: called once per message found, during
   * the scan; the store returns `paged` (summaries) instead of `messages`. Only for a store with
   * readMessages().
   */
  summarize?: (message: Buffer) => MessageSummary;
}

export interface StoreRecovery {
  /** Latest value of every live metadata key, by namespace. */
  metadata: Map<string, Map<string, Buffer>>;
  /** Messages not yet acked from every queue, in seq order. */
  messages: RecoveredMessage[];
  /**
   * With OpenOptions.summarize: the same messages without their bodies, in seq order (`messages` is
   * then empty). Iterated once: each item is made as it is asked for, not held in an array.
   */
  paged?: Iterable<PagedMessage>;
  /**
   * The same as `paged`, faster: `fn` is called per message and queue, in seq order, with nothing
   * allocated per message (a deep backlog recovers in well under a microsecond a message).
   * `deliveryCount` is 0 for a message never delivered from that queue.
   */
  eachPaged?(fn: PagedVisitor): void;
  /** How the journal's index was rebuilt: from its snapshot plus the tail written after it, or by scanning it all. */
  journalIndex?: 'snapshot' | 'scan';
  /** Streams found in the store, with their partition counts. */
  streams: Map<string, number>;
}

export interface RetentionPolicy {
  /** Delete whole segments whose newest record is older than this; -1 = keep forever. */
  retentionMs: number;
  /** Delete oldest segments while the partition is larger than this; -1 = no limit. */
  retentionBytes: number;
  /** Segment size at which the active segment is rolled. */
  segmentBytes: number;
  /** Copies a replicating store keeps (the cluster backend); a local store keeps one. */
  replicationFactor?: number;
}

/** What the log knows of one stored batch (record batch v2 header fields, see core/stream/batch-header.ts). */
export interface StoredBatchInfo {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

/**
 * One partition of one stream: an append-only log of whole record batches (record batch v2 layout,
 * base offset already assigned by the broker). Offsets are dense per partition.
 */
export interface PartitionStore {
  /** First offset still stored (advances with retention). */
  readonly logStartOffset: number;
  /** Offset the next appended record gets (log end offset). */
  readonly nextOffset: number;
  /** Bytes stored across all segments. */
  readonly sizeBytes: number;
  /** Appends one batch whose base offset is `nextOffset`. */
  append(batch: Buffer, info: StoredBatchInfo): Promise<void>;
  /**
   * Whole batches starting with the one containing `offset`, up to `maxBytes` (always at least one
   * batch when `offset < nextOffset`, even if it is larger). Empty at the end of the log.
   */
  read(offset: number, maxBytes: number): Promise<Buffer[]>;
  /** Offset of the first record with timestamp >= `timestamp`, or null if none. */
  offsetForTimestamp(timestamp: number): Promise<number | null>;
  /** Headers of the batches in the newest segment, oldest first: rebuilds idempotent-producer state. */
  recentBatches(): StoredBatchInfo[];
  /** Drops whole segments that fall outside the policy (never the active one). */
  applyRetention(policy: RetentionPolicy, now: number): Promise<void>;
  /**
   * Re-reads the log's end and recent batches from a store other nodes may have written (the
   * cluster backend, when this node becomes the partition's leader). Local stores need not.
   */
  refresh?(): Promise<void>;
  /** Marks the log as possibly stale (another node may have written it): the leader resyncs before appending again. */
  fence?(): void;
  close(): Promise<void>;
}

/** A metadata change made by another node of a cluster (value undefined = deleted). */
export type RemoteChange = { ns: string; key: string; value: Buffer | undefined };

export interface Store {
  /** Opens the store, recovering (and truncating torn tails) as needed. */
  open(options?: OpenOptions): Promise<StoreRecovery>;
  /**
   * Reads back the bodies of queued messages (by seq) from where the journal holds them, in the
   * order asked; undefined for a seq that is no longer queued. A store that has this can keep
   * deep queues on disk (the broker's queue paging, docs/storage.md); others keep them in memory.
   */
  readMessages?(seqs: number[]): Promise<Array<Buffer | undefined>>;
  /** Writes the entries as one atomic group: after a crash either all or none of them are recovered. */
  journal(entries: JournalEntry[]): Promise<void>;
  /** Opens (creating if absent) one partition log. */
  openPartition(stream: string, partition: number, policy: RetentionPolicy): Promise<PartitionStore>;
  /** Deletes every partition of a stream. */
  deleteStream(stream: string): Promise<void>;
  /** Forces everything written so far to disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Bytes waiting to be written; the broker slows publishers when this grows. */
  readonly pendingBytes: number;
  /** Durations of the store's fdatasync calls (absent for a store that never syncs). */
  readonly fsyncSeconds?: LatencyHistogram;
  /** Index snapshots the store wrote since it opened (the embedded store's journal, docs/storage.md). */
  readonly indexSnapshots?: number;
  /** A shared store calls `listener` for metadata other nodes change (after open()). */
  onRemoteChange?(listener: (change: RemoteChange) => void): void;
  /**
   * A shared store: resolves once every metadata change other nodes had acknowledged before the
   * call has reached this node (through `onRemoteChange`); rejects when it cannot tell in time.
   */
  syncShared?(): Promise<void>;
}
