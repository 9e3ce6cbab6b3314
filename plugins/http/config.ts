/** `http:` section: the HTTP listener (health, readiness, WebSocket endpoints, admin routes). */
import type { FromSchema } from '../../config/infer.js';
import { listenerSection, port, positiveInt } from '../../config/sections/common.js';

export const httpSchema = listenerSection(
  { port: port(8080, 'HTTP listener: /healthz, /readyz, WebSocket endpoints, admin API, metrics, console') },
  {
    maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576, default: 16384, description: 'largest request head (request line and headers); larger gets 431' },
    headersTimeoutMs: { ...positiveInt, default: 10000, description: 'time allowed to receive the request head' },
    requestTimeoutMs: { ...positiveInt, default: 30000, description: 'time allowed to receive a whole request' },
    keepAliveTimeoutMs: { ...positiveInt, default: 5000, description: 'idle time before a kept-alive connection is closed' },
    maxWebSocketMessageBytes: { ...positiveInt, default: 16777216, description: 'largest WebSocket message accepted on any endpoint' },
  },
);

export type HttpConfig = FromSchema<typeof httpSchema>;
