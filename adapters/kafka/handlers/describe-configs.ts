/** DescribeConfigs: topic configs (from the stream) and a few broker configs Kafka tools ask for. */
import type { Handler, RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Struct } from '../protocol/schema.js';
import { canDescribe } from './metadata.js';

export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

function brokerConfigs(ctx: RequestContext): Array<{ name: string; value: string }> {
  const s = ctx.services.settings;
  return [
    { name: 'broker.id', value: String(s.nodeId) },
    { name: 'num.partitions', value: String(s.defaultPartitions) },
    { name: 'auto.create.topics.enable', value: String(s.autoCreateTopics) },
    { name: 'default.replication.factor', value: '1' },
    { name: 'message.max.bytes', value: String(s.maxMessageBytes) },
    { name: 'socket.request.max.bytes', value: String(s.maxRequestBytes) },
    { name: 'connections.max.idle.ms', value: String(s.idleTimeoutMs) },
    { name: 'group.initial.rebalance.delay.ms', value: String(s.groupInitialRebalanceDelayMs) },
    { name: 'group.min.session.timeout.ms', value: String(s.groupMinSessionTimeoutMs) },
    { name: 'group.max.session.timeout.ms', value: String(s.groupMaxSessionTimeoutMs) },
    { name: 'min.insync.replicas', value: '1' },
    { name: 'log.retention.ms', value: String(ctx.services.topics.streamDefaults().retentionMs) },
    { name: 'log.retention.bytes', value: String(ctx.services.topics.streamDefaults().retentionBytes) },
    { name: 'log.segment.bytes', value: String(ctx.services.topics.streamDefaults().segmentBytes) },
  ];
}

export const handleDescribeConfigs: Handler = (ctx, req) => {
  const { topics, settings } = ctx.services;
  const v = ctx.apiVersion;
  const results: Struct[] = [];
  for (const r of req.resources as Array<{ resourceType: number; resourceName: string; configurationKeys: string[] | null }>) {
    const result: Struct = { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] };
    results.push(result);
    const keep = (name: string) => r.configurationKeys === null || r.configurationKeys.includes(name);
    const entry = (name: string, value: string, isDefault: boolean, readOnly: boolean, source: number) => ({
      name, value, readOnly, isDefault, configSource: isDefault ? SOURCE_DEFAULT : source, isSensitive: false,
      synonyms: req.includeSynonyms ? [{ name, value, source: isDefault ? SOURCE_DEFAULT : source }] : [], configType: 0, documentation: null,
    });
    if (r.resourceType === RESOURCE_TOPIC) {
      const stream = topics.get(r.resourceName);
      if (!stream) {
        Object.assign(result, { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic ${r.resourceName} does not exist` });
      } else if (!canDescribe(ctx, r.resourceName)) {
        result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      } else {
        result.configs = topics.describe(stream).filter((c) => keep(c.name)).map((c) => entry(c.name, c.value, c.isDefault, c.readOnly, SOURCE_DYNAMIC_TOPIC));
      }
    } else if (r.resourceType === RESOURCE_BROKER) {
      if (r.resourceName !== '' && r.resourceName !== String(settings.nodeId)) {
        Object.assign(result, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown broker ${r.resourceName}` });
      } else {
        result.configs = brokerConfigs(ctx).filter((c) => keep(c.name)).map((c) => entry(c.name, c.value, false, true, SOURCE_STATIC_BROKER));
      }
    } else {
      Object.assign(result, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${r.resourceType} is not supported` });
    }
    if (v === 0) for (const c of result.configs as Struct[]) c.isDefault = c.configSource === SOURCE_DEFAULT;
  }
  return { throttleTimeMs: 0, results };
};
