/**
 * Read-only views of the broker's queues, streams and consumer groups, shared by the admin API,
 * the metrics exposition and the console. Computed on demand from the core's public accessors.
 */
import type { Broker } from '../../core/broker.js';
import type { Queue, QueueStats } from '../../core/queue.js';
import type { Stream } from '../../core/stream/stream.js';

export interface QueueSummary {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  messagesReady: number;
  messagesUnacked: number;
  readyBytes: number;
  consumers: number;
  /** In a cluster, for a shared queue: the node that holds its messages (as this node knows it). */
  ownerNode?: number;
  options: {
    maxLength: number;
    maxBytes: number;
    overflow: string;
    messageTtl: number;
    maxDeliveries: number;
    deadLetterQueue: string;
    deadLetterOnExpiry: boolean;
    priorities: boolean;
  };
  labels: Record<string, string>;
  stats: QueueStats;
  bindings: string[];
}

export function summariseQueue(broker: Broker, q: Queue): QueueSummary {
  const o = q.options;
  const shared = broker.cluster.sharedQueues;
  return {
    name: q.name,
    durable: o.durable,
    autoDelete: o.autoDelete,
    exclusive: o.exclusiveOwner !== undefined,
    messagesReady: q.messageCount,
    messagesUnacked: q.unackedMessageCount,
    readyBytes: q.readyBytes,
    consumers: q.consumers.length,
    ...(shared?.shares(o) ? { ownerNode: shared.ownerOf(q.name) } : {}),
    options: {
      maxLength: o.maxLength,
      maxBytes: o.maxBytes,
      overflow: o.overflow,
      messageTtl: o.messageTtl,
      maxDeliveries: o.maxDeliveries,
      deadLetterQueue: o.deadLetterQueue,
      deadLetterOnExpiry: o.deadLetterOnExpiry === true,
      priorities: o.priorities !== false,
    },
    labels: { ...(o.labels ?? {}) },
    stats: { ...q.stats },
    bindings: broker.bindingsOf(q.name).map((b) => b.pattern).sort(),
  };
}

export interface PartitionSummary {
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  sizeBytes: number;
  /** Records still held (highWatermark - logStartOffset). */
  messages: number;
}

export interface StreamSummary {
  name: string;
  config: {
    partitions: number;
    retentionMs: number;
    retentionBytes: number;
    segmentBytes: number;
    logAppendTime: boolean;
    cleanupPolicy: string;
    patterns: string[];
    extra: Record<string, string>;
  };
  sizeBytes: number;
  messages: number;
  partitions: PartitionSummary[];
}

export function summariseStream(s: Stream): StreamSummary {
  const partitions = s.partitions.map((p) => ({
    partition: p.index,
    logStartOffset: p.logStartOffset,
    highWatermark: p.highWatermark,
    sizeBytes: p.sizeBytes,
    messages: Math.max(0, p.highWatermark - p.logStartOffset),
  }));
  const c = s.config;
  return {
    name: s.name,
    config: {
      partitions: s.partitions.length,
      retentionMs: c.retentionMs,
      retentionBytes: c.retentionBytes,
      segmentBytes: c.segmentBytes,
      logAppendTime: c.logAppendTime,
      cleanupPolicy: c.cleanupPolicy,
      patterns: [...c.patterns],
      extra: { ...c.extra },
    },
    sizeBytes: partitions.reduce((n, p) => n + p.sizeBytes, 0),
    messages: partitions.reduce((n, p) => n + p.messages, 0),
    partitions,
  };
}

export interface GroupPartitionOffset {
  stream: string;
  partition: number;
  committed: number;
  /** Null when the stream or partition no longer exists. */
  highWatermark: number | null;
  /** highWatermark - committed (never below 0); null when the partition is gone. */
  lag: number | null;
  metadata: string;
  commitTimestamp: number;
}

export interface GroupSummary {
  group: string;
  /** Sum of the known lags. */
  lag: number;
  offsets: GroupPartitionOffset[];
}

export function summariseGroup(broker: Broker, group: string): GroupSummary {
  const offsets = broker.offsets.list(group).map((o): GroupPartitionOffset => {
    const hw = broker.getStream(o.stream)?.partition(o.partition)?.highWatermark ?? null;
    return {
      stream: o.stream,
      partition: o.partition,
      committed: o.offset,
      highWatermark: hw,
      lag: hw === null ? null : Math.max(0, hw - o.offset),
      metadata: o.metadata,
      commitTimestamp: o.commitTimestamp,
    };
  });
  offsets.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.partition - b.partition));
  return { group, lag: offsets.reduce((n, o) => n + (o.lag ?? 0), 0), offsets };
}

export function groupNames(broker: Broker): string[] {
  return broker.offsets.groups().sort();
}

export function sortedQueues(broker: Broker): Queue[] {
  return [...broker.queues()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function sortedStreams(broker: Broker): Stream[] {
  return [...broker.streams()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Totals over every queue and stream, for the overview and its rates. */
export interface BrokerTotals {
  queues: number;
  streams: number;
  partitions: number;
  bindings: number;
  consumers: number;
  messagesReady: number;
  messagesUnacked: number;
  published: number;
  delivered: number;
  acked: number;
  /** Sum of every partition's high watermark: records ever appended to the streams still present. */
  streamRecords: number;
  streamBytes: number;
  unroutable: number;
}

export function brokerTotals(broker: Broker): BrokerTotals {
  const t: BrokerTotals = {
    queues: 0, streams: 0, partitions: 0, bindings: 0, consumers: 0, messagesReady: 0, messagesUnacked: 0,
    published: 0, delivered: 0, acked: 0, streamRecords: 0, streamBytes: 0, unroutable: broker.unroutable,
  };
  for (const q of broker.queues()) {
    t.queues++;
    t.consumers += q.consumers.length;
    t.messagesReady += q.messageCount;
    t.messagesUnacked += q.unackedMessageCount;
    t.published += q.stats.published;
    t.delivered += q.stats.delivered;
    t.acked += q.stats.acked;
  }
  for (const s of broker.streams()) {
    t.streams++;
    for (const p of s.partitions) {
      t.partitions++;
      t.streamRecords += p.highWatermark;
      t.streamBytes += p.sizeBytes;
    }
  }
  t.bindings = broker.bindingCount;
  return t;
}
