/**
 * The new offsets of `consumer-groups --reset-offsets`, per partition, kept within the partition's
 * [earliest, latest] range as Kafka's tool keeps them.
 */
import type { Admin } from 'kafkajs';
import { CliError } from './errors.js';

export type ResetSpec =
  | { kind: 'earliest' } | { kind: 'latest' } | { kind: 'current' }
  | { kind: 'offset'; offset: number } | { kind: 'time'; at: number } | { kind: 'shift'; by: number };

export interface PlannedOffset { topic: string; partition: number; offset: string }

/** `topics`: `t` or `t:0,2` entries, or null for every topic the group has committed offsets for. */
export async function resetPlan(admin: Admin, groupId: string, topics: string[] | null, spec: ResetSpec): Promise<PlannedOffset[]> {
  const existing = await admin.listTopics();
  const wanted = new Map<string, number[] | null>();
  if (topics === null) {
    const all = existing.filter((t) => !t.startsWith('__'));
    const committed = all.length ? await admin.fetchOffsets({ groupId, topics: all }) : [];
    for (const t of committed) if (t.partitions.some((p) => Number(p.offset) >= 0)) wanted.set(t.topic, null);
  } else {
    for (const entry of topics) {
      const [topic, list] = entry.split(':');
      if (!existing.includes(topic)) throw new CliError(`Error: topic '${topic}' does not exist`);
      wanted.set(topic, list ? list.split(',').map((p) => Number(p)) : null);
    }
  }
  const plan: PlannedOffset[] = [];
  for (const [topic, only] of wanted) {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = new Map((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions.map((p) => [p.partition, p.offset]) ?? []);
    const byTime = spec.kind === 'time' ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, spec.at)).map((p) => [p.partition, p.offset])) : null;
    for (const p of ends.sort((a, b) => a.partition - b.partition)) {
      if (only && !only.includes(p.partition)) continue;
      const low = BigInt(p.low);
      const high = BigInt(p.high);
      const current = committed.get(p.partition);
      const base = current !== undefined && BigInt(current) >= 0n ? BigInt(current) : high;
      let target: bigint;
      switch (spec.kind) {
        case 'earliest': target = low; break;
        case 'latest': target = high; break;
        case 'current': target = base; break;
        case 'offset': target = BigInt(spec.offset); break;
        case 'shift': target = base + BigInt(spec.by); break;
        case 'time': target = BigInt(byTime!.get(p.partition) ?? p.high); if (target < 0n) target = high; break;
      }
      if (target < low) target = low;
      if (target > high) target = high;
      plan.push({ topic, partition: p.partition, offset: target.toString() });
    }
    if (only) {
      for (const p of only) if (!ends.some((e) => e.partition === p)) throw new CliError(`Error: topic '${topic}' has no partition ${p}`);
    }
  }
  return plan;
}
