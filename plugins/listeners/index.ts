export { AdapterListeners, withListeners, DEFAULT_DRAIN_GRACE_MS, DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS, type ListenerServiceOptions } from './listener-service.js';
export { ConnectionRateLimiter, type ConnectionRateSettings } from './connection-rate.js';
