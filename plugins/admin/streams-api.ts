/**
 * /api/streams (partitioned logs: list, inspect, create or reconfigure with PUT, delete) and
 * /api/groups (consumer-group committed offsets with their lag).
 */
import { checkTopicName, checkTopicPattern } from '../../core/names.js';
import type { StreamConfig } from '../../core/stream/stream.js';
import type { AdminContext, ApiRequest, ApiRoute } from './api-routes.js';
import { HttpError, readJsonBody, sendJson } from './http-util.js';
import { groupNames, sortedStreams, summariseGroup, summariseStream } from './introspection.js';

type StreamSettings = Partial<Pick<StreamConfig, 'partitions' | 'retentionMs' | 'retentionBytes' | 'patterns'>>;

const MAX_PARTITIONS = 10000;
const STREAM_KEYS = new Set(['partitions', 'retentionMs', 'retentionBytes', 'patterns']);

/** Validates a PUT body into stream settings (only the keys given). */
export function streamSettings(body: Record<string, unknown>): StreamSettings {
  const out: StreamSettings = {};
  for (const [k, v] of Object.entries(body)) {
    if (!STREAM_KEYS.has(k)) throw new HttpError(400, `unknown stream setting "${k}" (allowed: ${[...STREAM_KEYS].join(', ')})`);
    if (k === 'partitions') {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_PARTITIONS) throw new HttpError(400, `partitions must be an integer from 1 to ${MAX_PARTITIONS}`);
      out.partitions = v as number;
    } else if (k === 'retentionMs' || k === 'retentionBytes') {
      if (!Number.isSafeInteger(v) || (v as number) < -1 || v === 0) throw new HttpError(400, `${k} must be a positive integer, or -1 for no limit`);
      out[k] = v as number;
    } else {
      if (!Array.isArray(v) || !v.every((p) => typeof p === 'string')) throw new HttpError(400, 'patterns must be a list of topic patterns');
      for (const p of v as string[]) checkTopicPattern(p);
      out.patterns = [...new Set(v as string[])];
    }
  }
  return out;
}

export function streamRoutes(ctx: AdminContext): ApiRoute[] {
  const { broker } = ctx;

  const requireStream = (name: string) => {
    const s = broker.getStream(name);
    if (!s) throw new HttpError(404, `stream ${JSON.stringify(name)} does not exist`);
    return s;
  };

  const put = async ({ req, res, params }: ApiRequest) => {
    const settings = streamSettings(await readJsonBody(req, { optional: true }));
    const existing = broker.getStream(params.name);
    if (!existing) {
      checkTopicName(params.name);
      const s = await broker.createStream(params.name, settings);
      return sendJson(res, 201, summariseStream(s), { location: `/api/streams/${encodeURIComponent(s.name)}` });
    }
    const { partitions, ...patch } = settings;
    if (partitions !== undefined && partitions < existing.partitions.length) {
      throw new HttpError(409, `stream ${JSON.stringify(params.name)} has ${existing.partitions.length} partitions; partitions cannot be removed`);
    }
    if (partitions !== undefined && partitions > existing.partitions.length) await broker.addPartitions(params.name, partitions);
    if (Object.keys(patch).length) await broker.reconfigureStream(params.name, patch);
    sendJson(res, 200, summariseStream(requireStream(params.name)));
  };

  const remove = async ({ res, params }: ApiRequest) => {
    if (!(await broker.deleteStream(params.name))) throw new HttpError(404, `stream ${JSON.stringify(params.name)} does not exist`);
    sendJson(res, 204, null);
  };

  const group = ({ res, params }: ApiRequest) => {
    if (!broker.offsets.groups().includes(params.name)) throw new HttpError(404, `group ${JSON.stringify(params.name)} has no committed offsets`);
    sendJson(res, 200, summariseGroup(broker, params.name));
  };

  return [
    { path: 'streams', methods: { GET: ({ res }) => sendJson(res, 200, { streams: sortedStreams(broker).map(summariseStream) }) } },
    { path: 'streams/:name', methods: { GET: ({ res, params }) => sendJson(res, 200, summariseStream(requireStream(params.name))), PUT: put, DELETE: remove } },
    { path: 'groups', methods: { GET: ({ res }) => sendJson(res, 200, { groups: groupNames(broker).map((g) => summariseGroup(broker, g)) }) } },
    { path: 'groups/:name', methods: { GET: group } },
  ];
}
