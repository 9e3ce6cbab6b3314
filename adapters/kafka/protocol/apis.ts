/**
 * The APIs Junction serves and the version ranges it advertises in ApiVersions (docs/kafka.md):
 * - floors that kafka-python, librdkafka and kafkajs send; FindCoordinator and InitProducerId
 *   start at 0 for librdkafka's feature map, and so does Produce: librdkafka 2.0.2 compresses
 *   gzip/snappy/lz4 only when Produce v0 is advertised (old message sets are up-converted, see
 *   legacy-message-set.ts). Fetch starts at 4, so every reader gets record batch v2.
 * - ceilings up to the flexible versions current Java clients and librdkafka prefer. Fetch 13+
 *   names topics by id: Metadata v10+ reports them (kept per topic in the core's metadata).
 */
import type { MessageSchema } from './schema.js';
import { AlterConfigsRequest, AlterConfigsResponse } from './messages/alter-configs.js';
import { ApiVersionsRequest, ApiVersionsResponse } from './messages/api-versions.js';
import { CreatePartitionsRequest, CreatePartitionsResponse } from './messages/create-partitions.js';
import { CreateTopicsRequest, CreateTopicsResponse } from './messages/create-topics.js';
import { DeleteGroupsRequest, DeleteGroupsResponse } from './messages/delete-groups.js';
import { DeleteTopicsRequest, DeleteTopicsResponse } from './messages/delete-topics.js';
import { DescribeConfigsRequest, DescribeConfigsResponse } from './messages/describe-configs.js';
import { DescribeGroupsRequest, DescribeGroupsResponse } from './messages/describe-groups.js';
import { FetchRequest, FetchResponse } from './messages/fetch.js';
import { FindCoordinatorRequest, FindCoordinatorResponse } from './messages/find-coordinator.js';
import { HeartbeatRequest, HeartbeatResponse } from './messages/heartbeat.js';
import { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from './messages/incremental-alter-configs.js';
import { InitProducerIdRequest, InitProducerIdResponse } from './messages/init-producer-id.js';
import { JoinGroupRequest, JoinGroupResponse } from './messages/join-group.js';
import { LeaveGroupRequest, LeaveGroupResponse } from './messages/leave-group.js';
import { ListGroupsRequest, ListGroupsResponse } from './messages/list-groups.js';
import { ListOffsetsRequest, ListOffsetsResponse } from './messages/list-offsets.js';
import { MetadataRequest, MetadataResponse } from './messages/metadata.js';
import { OffsetCommitRequest, OffsetCommitResponse } from './messages/offset-commit.js';
import { OffsetFetchRequest, OffsetFetchResponse } from './messages/offset-fetch.js';
import { ProduceRequest, ProduceResponse } from './messages/produce.js';
import { SaslAuthenticateRequest, SaslAuthenticateResponse } from './messages/sasl-authenticate.js';
import { SaslHandshakeRequest, SaslHandshakeResponse } from './messages/sasl-handshake.js';
import { SyncGroupRequest, SyncGroupResponse } from './messages/sync-group.js';

export const enum ApiKey {
  Produce = 0, Fetch = 1, ListOffsets = 2, Metadata = 3, OffsetCommit = 8, OffsetFetch = 9,
  FindCoordinator = 10, JoinGroup = 11, Heartbeat = 12, LeaveGroup = 13, SyncGroup = 14,
  DescribeGroups = 15, ListGroups = 16, SaslHandshake = 17, ApiVersions = 18, CreateTopics = 19,
  DeleteTopics = 20, InitProducerId = 22, DescribeConfigs = 32, AlterConfigs = 33,
  SaslAuthenticate = 36, CreatePartitions = 37, DeleteGroups = 42, IncrementalAlterConfigs = 44,
}

export interface ApiDef {
  key: number;
  name: string;
  request: MessageSchema;
  response: MessageSchema;
  /** Advertised (and accepted) versions. */
  min: number;
  max: number;
}

function api(request: MessageSchema, response: MessageSchema, min: number, max: number): ApiDef {
  if (!request.valid.has(min) || !request.valid.has(max)) throw new Error(`${request.name}: ${min}-${max} outside its schema`);
  return { key: request.apiKey, name: request.name.replace(/Request$/, ''), request, response, min, max };
}

export const APIS: readonly ApiDef[] = [
  api(ProduceRequest, ProduceResponse, 0, 11),
  api(FetchRequest, FetchResponse, 4, 16),
  api(ListOffsetsRequest, ListOffsetsResponse, 1, 6),
  api(MetadataRequest, MetadataResponse, 0, 12),
  api(OffsetCommitRequest, OffsetCommitResponse, 0, 8),
  api(OffsetFetchRequest, OffsetFetchResponse, 0, 8),
  api(FindCoordinatorRequest, FindCoordinatorResponse, 0, 4),
  api(JoinGroupRequest, JoinGroupResponse, 0, 9),
  api(HeartbeatRequest, HeartbeatResponse, 0, 4),
  api(LeaveGroupRequest, LeaveGroupResponse, 0, 5),
  api(SyncGroupRequest, SyncGroupResponse, 0, 5),
  api(DescribeGroupsRequest, DescribeGroupsResponse, 0, 5),
  api(ListGroupsRequest, ListGroupsResponse, 0, 4),
  api(SaslHandshakeRequest, SaslHandshakeResponse, 0, 1),
  api(ApiVersionsRequest, ApiVersionsResponse, 0, 3),
  api(CreateTopicsRequest, CreateTopicsResponse, 0, 7),
  api(DeleteTopicsRequest, DeleteTopicsResponse, 0, 6),
  api(InitProducerIdRequest, InitProducerIdResponse, 0, 4),
  api(DescribeConfigsRequest, DescribeConfigsResponse, 0, 4),
  api(AlterConfigsRequest, AlterConfigsResponse, 0, 2),
  api(SaslAuthenticateRequest, SaslAuthenticateResponse, 0, 2),
  api(CreatePartitionsRequest, CreatePartitionsResponse, 0, 3),
  api(DeleteGroupsRequest, DeleteGroupsResponse, 0, 2),
  api(IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, 0, 1),
];

const byKey = new Map<number, ApiDef>(APIS.map((a) => [a.key, a]));

export function apiByKey(key: number): ApiDef | undefined {
  return byKey.get(key);
}

/** Request header v2 (with tagged fields) for flexible request versions, else v1. */
export function isFlexibleRequest(api: ApiDef, version: number): boolean {
  return api.request.flexible.has(version);
}

/** Response header v1 (with tagged fields) for flexible versions; ApiVersions always answers with header v0. */
export function hasFlexibleResponseHeader(api: ApiDef, version: number): boolean {
  return api.key !== ApiKey.ApiVersions && api.response.flexible.has(version);
}
