/**
 * InitProducerId for idempotent producers: a producer id unique across restarts (the core's
 * counter), epoch 0; a known id asking again (v3+) gets its epoch bumped. Transactional ids are
 * refused: Junction has no transaction coordinator.
 */
import type { Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

export const handleInitProducerId: Handler = async (ctx, req) => {
  if (req.transactionalId !== null) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
  }
  const producerId = req.producerId as number;
  const producerEpoch = req.producerEpoch as number;
  if (producerId >= 0 && producerEpoch >= 0) {
    if (producerEpoch >= 32766) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: Number(await ctx.services.broker.allocateProducerId()), producerEpoch: 0 };
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: producerEpoch + 1 };
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: Number(await ctx.services.broker.allocateProducerId()), producerEpoch: 0 };
};
