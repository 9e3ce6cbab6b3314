/** Test support: broker start-up for tests and the Debian-client guard. */
export * from './broker.js';
export * from './debian.js';
export * from './eventually.js';
export * from './logger.js';
export * from './refusal.js';
export * from './certs.js';
