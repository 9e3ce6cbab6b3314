/**
 * Streams declared in the configuration (`streams.declare`), made to exist at every start: a
 * missing stream is created, an existing one gains the patterns and partitions it lacks (a stream
 * never loses partitions or patterns here: those are removed with the admin API or Kafka tools).
 * So `sensors` collecting `sensors.#` is there before the first MQTT device publishes.
 */
import type { Broker } from '../broker.js';
import { checkTopicName, checkTopicPattern } from '../names.js';

export interface DeclaredStream {
  name: string;
  /** More topic patterns the stream collects (its own name always routes to it). */
  patterns?: string[];
  /** Partitions (default: streams.defaultPartitions); an existing stream with fewer gets more. */
  partitions?: number;
  retentionMs?: number;
  retentionBytes?: number;
}

export type DeclareOutcome = 'created' | 'updated' | 'unchanged';

/** Throws InvalidNameError for a bad name or pattern (callers turn it into a ConfigError). */
export function checkDeclaredStream(d: DeclaredStream): void {
  checkTopicName(d.name);
  for (const p of d.patterns ?? []) checkTopicPattern(p);
}

export async function declareStream(broker: Broker, d: DeclaredStream): Promise<DeclareOutcome> {
  checkDeclaredStream(d);
  const existing = broker.getStream(d.name);
  if (!existing) {
    await broker.createStream(d.name, {
      patterns: [...new Set(d.patterns ?? [])],
      ...(d.partitions !== undefined ? { partitions: d.partitions } : {}),
      ...(d.retentionMs !== undefined ? { retentionMs: d.retentionMs } : {}),
      ...(d.retentionBytes !== undefined ? { retentionBytes: d.retentionBytes } : {}),
    });
    return 'created';
  }
  let outcome: DeclareOutcome = 'unchanged';
  if (d.partitions !== undefined && existing.partitions.length < d.partitions) {
    await broker.addPartitions(d.name, d.partitions);
    outcome = 'updated';
  }
  const missing = (d.patterns ?? []).filter((p) => !existing.config.patterns.includes(p));
  const patch: Parameters<Broker['reconfigureStream']>[1] = {};
  if (missing.length) patch.patterns = [...existing.config.patterns, ...new Set(missing)];
  if (d.retentionMs !== undefined && existing.config.retentionMs !== d.retentionMs) patch.retentionMs = d.retentionMs;
  if (d.retentionBytes !== undefined && existing.config.retentionBytes !== d.retentionBytes) patch.retentionBytes = d.retentionBytes;
  if (Object.keys(patch).length) {
    await broker.reconfigureStream(d.name, patch);
    outcome = 'updated';
  }
  return outcome;
}
