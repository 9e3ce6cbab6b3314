/** `http:` section: the HTTP listener (health, readiness, WebSocket endpoints, admin routes). */
import { listenerSchema, positiveInt, type ListenerSection } from './common.js';

export interface HttpConfig extends ListenerSection {
  /** Largest request head (request line and headers) accepted; larger gets 431. */
  maxHeaderBytes: number;
  /** Time allowed to receive the request head. */
  headersTimeoutMs: number;
  /** Time allowed to receive a whole request. */
  requestTimeoutMs: number;
  /** Idle time before a kept-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** Largest WebSocket message accepted on any endpoint. */
  maxWebSocketMessageBytes: number;
}

export const httpSchema = listenerSchema(
  {
    maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576, 'x-hint': 'an integer from 1024 to 1048576' },
    headersTimeoutMs: positiveInt,
    requestTimeoutMs: positiveInt,
    keepAliveTimeoutMs: positiveInt,
    maxWebSocketMessageBytes: positiveInt,
  },
  false,
);
