/** DeleteTopics: by name (v0-5) or by name or topic id (v6+); the stream and its group offsets go. */
import { allowed, type Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Struct } from '../protocol/schema.js';

export const handleDeleteTopics: Handler = async (ctx, req) => {
  const { topics } = ctx.services;
  const wanted: Array<{ name: string | null; topicId: Buffer }> = ctx.apiVersion >= 6
    ? req.topics as Array<{ name: string | null; topicId: Buffer }>
    : (req.topicNames as string[]).map((name) => ({ name, topicId: Buffer.alloc(16) }));
  const responses: Struct[] = [];
  for (const w of wanted) {
    const byId = w.name === null || w.name === '';
    const name = byId ? topics.nameOfId(w.topicId) : w.name!;
    const entry = { name: name ?? null, topicId: w.topicId, errorCode: ErrorCode.NONE, errorMessage: null as string | null };
    responses.push(entry);
    if (!name || !topics.get(name)) {
      entry.errorCode = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      continue;
    }
    if (!allowed(ctx, 'admin', name)) {
      entry.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      continue;
    }
    entry.topicId = topics.knownTopicId(name) ?? entry.topicId;
    await topics.delete(name);
  }
  return { throttleTimeMs: 0, responses: ctx.apiVersion < 6 ? responses.map((r) => ({ ...r, name: r.name ?? '' })) : responses };
};
