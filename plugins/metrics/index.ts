/**
 * `GET /metrics`: the broker's state in Prometheus text format 0.0.4, computed at each scrape from
 * the core (nothing is counted on the message path beyond the core's own statistics). Protected
 * like the admin API (HTTP Basic when anonymous access is off). Names are listed in docs/admin.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHost } from '../../core/adapter.js';
import type { QueueStats } from '../../core/queue.js';
import { AccessGuard, replyError, type AdminContext } from '../admin/index.js';
import { groupNames, sortedQueues, sortedStreams, summariseGroup } from '../admin/introspection.js';
import { ProcessMetrics } from './process-metrics.js';
import { writeConnectionMetrics } from './connection-metrics.js';
import { readDiskFigures, writeDiskMetrics } from './disk-metrics.js';
import { CONTENT_TYPE, ExpositionWriter, type Sample } from './prometheus-format.js';

export * from './prometheus-format.js';
export { ProcessMetrics } from './process-metrics.js';

const QUEUE_COUNTERS: Array<[keyof QueueStats, string, string]> = [
  ['published', 'junction_queue_published_total', 'Messages placed in the queue.'],
  ['delivered', 'junction_queue_delivered_total', 'Deliveries to consumers (redeliveries included).'],
  ['acked', 'junction_queue_acked_total', 'Deliveries acknowledged (or settled on send).'],
  ['redelivered', 'junction_queue_redelivered_total', 'Deliveries of messages delivered before.'],
  ['dropped', 'junction_queue_dropped_total', 'Messages dropped by the drop-head overflow policy.'],
  ['expired', 'junction_queue_expired_total', 'Messages that expired in the queue.'],
  ['deadLettered', 'junction_queue_dead_lettered_total', 'Messages moved to the dead-letter queue (or dropped without one).'],
];

/** Writes every junction_* family for the broker. */
export function writeBrokerMetrics(w: ExpositionWriter, ctx: AdminContext): void {
  const { broker } = ctx;
  const cluster = broker.cluster;
  w.family('junction_info', 'gauge', 'Junction version and node id (always 1).', [{ labels: { version: ctx.version, node: cluster.nodeId }, value: 1 }]);
  if (cluster.clustered) w.single('junction_cluster_nodes', 'gauge', 'Live nodes of the cluster, this one included.', cluster.nodes().length);
  w.single('junction_uptime_seconds', 'gauge', 'Time since the broker started, in seconds.', (Date.now() - ctx.startedAt) / 1000);
  w.family('junction_listener_info', 'gauge', 'Bound listeners (always 1).', ctx.listeners().map((l) => ({
    labels: { listener: l.name, protocol: l.protocol, host: l.host, port: l.port, tls: String(l.tls), ...(l.path ? { path: l.path } : {}) }, value: 1,
  })));

  const queues = sortedQueues(broker);
  const streams = sortedStreams(broker);
  w.single('junction_queues', 'gauge', 'Queues (subscriptions included).', queues.length);
  w.single('junction_streams', 'gauge', 'Streams.', streams.length);
  w.single('junction_unroutable_total', 'counter', 'Messages published to a topic no queue or stream was bound to.', broker.unroutable);
  w.single('junction_store_pending_bytes', 'gauge', 'Bytes written to the store and waiting for the disk.', broker.store.pendingBytes);
  const fsync = broker.store.fsyncSeconds;
  if (fsync) w.histogram('junction_fsync_duration_seconds', 'Duration of each fdatasync of the journal and partition logs.', fsync);
  const memory = broker.queueMemory;
  w.single('junction_queue_memory_bytes', 'gauge', 'Bytes of durable queued message bodies held in memory, each with 384 bytes for its objects (queues.memoryBytes bounds them; past it they page to disk).', memory.heldBytes);
  w.single('junction_queue_memory_budget_bytes', 'gauge', 'The queues.memoryBytes budget.', memory.budgetBytes);
  w.single('junction_queue_paged_messages', 'gauge', 'Queued messages whose body is on disk only now.', memory.pagedMessages);
  let packed = 0;
  for (const q of queues) packed += q.packedMessageCount;
  w.single('junction_queue_packed_messages', 'gauge', 'Paged queued messages held packed in typed arrays (a few bytes each, no object).', packed);
  if (broker.journalIndex) {
    w.single('junction_journal_index_from_snapshot', 'gauge', 'The journal index was loaded from its snapshot at start, plus the journal written after it (1), or rebuilt by scanning the whole journal (0).', broker.journalIndex === 'snapshot' ? 1 : 0);
  }
  const snapshots = broker.store.indexSnapshots;
  if (snapshots !== undefined) w.single('junction_journal_index_snapshots_total', 'counter', 'Index snapshots of the journal written since start (periodic, storage.snapshotEveryBytes, and at a clean stop).', snapshots);
  w.single('junction_queue_paged_out_total', 'counter', 'Queued message bodies dropped from memory past the budget.', memory.pagedOut);
  w.single('junction_queue_paged_in_total', 'counter', 'Paged message bodies read back from disk (delivery, browsing, dead-lettering).', memory.pagedIn);
  const outbound = broker.outboundMemory;
  w.single('junction_outbound_memory_bytes', 'gauge', 'Bytes of queued message bodies that cannot page held in memory, all queues together (limits.outboundMemoryBytes bounds them).', outbound.heldBytes);
  w.single('junction_outbound_memory_limit_bytes', 'gauge', 'The limits.outboundMemoryBytes bound (0 = none).', Math.max(0, outbound.limitBytes));
  w.single('junction_outbound_memory_held_publishes_total', 'counter', 'Publishes that waited because the outbound memory bound was passed.', outbound.heldBack);
  writeConnectionMetrics(w, ctx.connections, ctx.auth);

  const perQueue = (f: (q: (typeof queues)[number]) => number): Sample[] => queues.map((q) => ({ labels: { queue: q.name }, value: f(q) }));
  w.family('junction_queue_messages_ready', 'gauge', 'Messages ready for delivery.', perQueue((q) => q.messageCount));
  w.family('junction_queue_messages_unacked', 'gauge', 'Messages delivered and not yet acknowledged.', perQueue((q) => q.unackedMessageCount));
  w.family('junction_queue_ready_bytes', 'gauge', 'Bytes of the ready messages.', perQueue((q) => q.readyBytes));
  w.family('junction_queue_consumers', 'gauge', 'Consumers attached.', perQueue((q) => q.consumers.length));
  for (const [stat, name, help] of QUEUE_COUNTERS) w.family(name, 'counter', help, perQueue((q) => q.stats[stat]));

  const perPartition = (f: (p: (typeof streams)[number]['partitions'][number]) => number): Sample[] =>
    streams.flatMap((s) => s.partitions.map((p) => ({ labels: { stream: s.name, partition: p.index }, value: f(p) })));
  w.family('junction_stream_partition_high_watermark', 'gauge', 'Offset after the last stored record.', perPartition((p) => p.highWatermark));
  w.family('junction_stream_partition_log_start_offset', 'gauge', 'First offset still retained.', perPartition((p) => p.logStartOffset));
  w.family('junction_stream_partition_size_bytes', 'gauge', 'Bytes stored for the partition.', perPartition((p) => p.sizeBytes));

  const committed: Sample[] = [];
  const lag: Sample[] = [];
  for (const g of groupNames(broker)) {
    for (const o of summariseGroup(broker, g).offsets) {
      const labels = { group: g, stream: o.stream, partition: o.partition };
      committed.push({ labels, value: o.committed });
      if (o.lag !== null) lag.push({ labels, value: o.lag });
    }
  }
  w.family('junction_group_committed_offset', 'gauge', 'Offset committed by the consumer group.', committed);
  w.family('junction_group_lag', 'gauge', 'Records behind: high watermark minus the committed offset.', lag);
}

export interface MetricsHandle {
  close(): void;
}

/** Mounts `GET /metrics`. close() stops the event-loop delay monitor. */
export function mountMetrics(http: HttpHost, ctx: AdminContext, guard = new AccessGuard(ctx.auth)): MetricsHandle {
  const processMetrics = new ProcessMetrics();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await guard.check(req);
      const w = new ExpositionWriter();
      writeBrokerMetrics(w, ctx);
      const disk = ctx.dataDir ? await readDiskFigures(ctx.dataDir) : null;
      if (disk) writeDiskMetrics(w, disk);
      processMetrics.write(w);
      const body = w.toString();
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      replyError(ctx, req, res, err);
    }
  };
  http.route('GET', '/metrics', handle);
  return { close: () => processMetrics.close() };
}
