/** What every connection of the adapter shares: the core, auth, logging and settings. */
import type { AuthPlugin, Logger, SaslService } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ProtocolConnections } from '../../core/connection-registry.js';
import type { AmqpSettings } from './config.js';

export interface AmqpRuntime {
  broker: Broker;
  auth: AuthPlugin;
  sasl: SaslService;
  log: Logger;
  settings: AmqpSettings;
  /** The broker's registry of client connections. */
  clients: ProtocolConnections;
}
