/**
 * One Kafka request on its own connection, encoded and decoded with the Kafka adapter's schemas
 * (the project's one Kafka codec). Used for the two things kafkajs cannot do: Metadata v10 for
 * topic ids, and a group-less OffsetCommit (generation -1, as Kafka's admin client commits for
 * `--reset-offsets`; kafkajs would join the group and wait for a fetch). Plaintext listeners only;
 * callers fall back to kafkajs when this resolves to null.
 */
import { connect } from 'node:net';
import { apiByKey, hasFlexibleResponseHeader, isFlexibleRequest } from '../../adapters/kafka/protocol/apis.js';
import { codecFor, type Struct } from '../../adapters/kafka/protocol/schema.js';
import { KafkaReader, KafkaWriter } from '../../adapters/kafka/protocol/wire.js';

export function hostPort(broker: string): { host: string; port: number } {
  const at = broker.lastIndexOf(':');
  return { host: broker.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(broker.slice(at + 1)) };
}

/** The decoded response, or null when the broker closed, timed out or answered unreadably. */
export async function rawRequest(broker: string, apiKey: number, version: number, body: Struct, timeoutMs = 3000): Promise<Struct | null> {
  const api = apiByKey(apiKey)!;
  const w = new KafkaWriter();
  w.int32(0).int16(apiKey).int16(version).int32(1).string('junction-cli', false);
  if (isFlexibleRequest(api, version)) w.uvarint(0);
  codecFor(api.request, version).write(w, body);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  const response = await new Promise<Buffer | null>((resolve) => {
    let got = Buffer.alloc(0);
    const socket = connect(hostPort(broker));
    const done = (b: Buffer | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(b);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('connect', () => socket.write(frame));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) done(got.subarray(4, 4 + got.readInt32BE(0)));
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
  if (!response) return null;
  try {
    const r = new KafkaReader(response);
    r.int32(); // correlation id
    if (hasFlexibleResponseHeader(api, version)) r.taggedFields();
    return codecFor(api.response, version).read(r);
  } catch {
    return null;
  }
}

/** Kafka's Uuid.toString(): URL-safe base64 without padding. */
export function uuidString(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** Topic name -> topic id (Kafka prints `TopicId:`); empty when the broker does not say. */
export async function fetchTopicIds(broker: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const res = await rawRequest(broker, 3, 10, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  for (const t of (res?.topics ?? []) as Array<{ name: string; topicId: Buffer }>) {
    if (t.topicId && !t.topicId.equals(Buffer.alloc(16))) ids.set(t.name, uuidString(t.topicId));
  }
  return ids;
}

/** The coordinator of `groupId` (FindCoordinator v0), or null when the broker does not say. */
export async function findCoordinator(broker: string, groupId: string): Promise<{ nodeId: number; host: string; port: number } | null> {
  const found = await rawRequest(broker, 10, 0, { key: groupId });
  if (!found || found.errorCode !== 0) return null;
  return { nodeId: Number(found.nodeId), host: String(found.host), port: Number(found.port) };
}

/**
 * Commits offsets for a group that has no members (generation -1, no member id). True when the
 * coordinator accepted every partition; false when this path is not available.
 */
export async function commitWithoutMembership(broker: string, groupId: string, topic: string, partitions: Array<{ partition: number; offset: string }>): Promise<boolean> {
  const found = await findCoordinator(broker, groupId);
  if (!found) return false;
  const coordinator = `${found.host}:${found.port}`;
  const res = await rawRequest(coordinator, 8, 2, {
    groupId, generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1,
    topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p.partition, committedOffset: BigInt(p.offset), committedMetadata: '' })) }],
  });
  if (!res) return false;
  return (res.topics as Array<{ partitions: Array<{ errorCode: number }> }>).every((t) => t.partitions.every((p) => p.errorCode === 0));
}

/**
 * The broker's own words for a refused CreateTopics (kafkajs keeps only the error code): the same
 * request again with validateOnly, so nothing is created. Null when the broker gives no message.
 */
export async function createTopicRefusal(broker: string, t: { name: string; numPartitions: number; replicationFactor: number; configs: Array<{ name: string; value: string }> }): Promise<string | null> {
  const res = await rawRequest(broker, 19, 4, { topics: [{ ...t, assignments: [] }], timeoutMs: 30000, validateOnly: true });
  const topic = (res?.topics as Array<{ errorCode: number; errorMessage: string | null }> | undefined)?.[0];
  return topic && topic.errorCode !== 0 && topic.errorMessage ? topic.errorMessage : null;
}
