/**
 * AlterConfigs (whole-set replacement) and IncrementalAlterConfigs (SET / DELETE per key) for
 * topics, mapped onto the stream's config. Broker configs are read-only here.
 */
import type { StreamConfig } from '../../../core/stream/stream.js';
import { allowed, type Handler, type RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import { applyTopicConfigs, TopicError } from '../topics.js';
import { RESOURCE_BROKER, RESOURCE_TOPIC } from './describe-configs.js';

const OP_SET = 0;
const OP_DELETE = 1;

type Change = { name: string; value: string | null };

async function alterTopic(ctx: RequestContext, name: string, changes: Change[], replaceAll: boolean, validateOnly: boolean): Promise<[ErrorCode, string | null]> {
  const { topics, broker } = ctx.services;
  const stream = topics.get(name);
  if (!stream) return [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`];
  if (!allowed(ctx, 'admin', name)) return [ErrorCode.TOPIC_AUTHORIZATION_FAILED, null];
  const defaults = topics.streamDefaults();
  const patch: Partial<StreamConfig> & { extra: Record<string, string> } = replaceAll
    ? { retentionMs: defaults.retentionMs, retentionBytes: defaults.retentionBytes, segmentBytes: defaults.segmentBytes, logAppendTime: false, cleanupPolicy: 'delete', extra: {} }
    : { extra: { ...stream.config.extra } };
  try {
    applyTopicConfigs(changes, defaults, patch);
  } catch (err) {
    if (err instanceof TopicError) return [err.code, err.message];
    throw err;
  }
  if (!validateOnly) await broker.reconfigureStream(name, patch);
  return [ErrorCode.NONE, null];
}

function resourceProblem(resourceType: number): [ErrorCode, string | null] | null {
  if (resourceType === RESOURCE_BROKER) return [ErrorCode.INVALID_REQUEST, 'broker configs are set in the Junction configuration file'];
  if (resourceType !== RESOURCE_TOPIC) return [ErrorCode.INVALID_REQUEST, `resource type ${resourceType} is not supported`];
  return null;
}

export const handleAlterConfigs: Handler = async (ctx, req) => {
  const responses = [];
  for (const r of req.resources as Array<{ resourceType: number; resourceName: string; configs: Change[] }>) {
    const [errorCode, errorMessage] = resourceProblem(r.resourceType) ?? await alterTopic(ctx, r.resourceName, r.configs, true, req.validateOnly as boolean);
    responses.push({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName });
  }
  return { throttleTimeMs: 0, responses };
};

export const handleIncrementalAlterConfigs: Handler = async (ctx, req) => {
  const responses = [];
  for (const r of req.resources as Array<{ resourceType: number; resourceName: string; configs: Array<{ name: string; configOperation: number; value: string | null }> }>) {
    let result: [ErrorCode, string | null] | null = resourceProblem(r.resourceType);
    if (!result) {
      const bad = r.configs.find((c) => c.configOperation !== OP_SET && c.configOperation !== OP_DELETE);
      result = bad
        ? [ErrorCode.INVALID_CONFIG, `operation ${bad.configOperation} on ${bad.name} is not supported (only SET and DELETE)`]
        : await alterTopic(ctx, r.resourceName, r.configs.map((c) => ({ name: c.name, value: c.configOperation === OP_DELETE ? null : c.value })), false, req.validateOnly as boolean);
    }
    responses.push({ errorCode: result[0], errorMessage: result[1], resourceType: r.resourceType, resourceName: r.resourceName });
  }
  return { throttleTimeMs: 0, responses };
};
