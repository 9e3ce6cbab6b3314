/** `stomp:` section. The STOMP adapter adds its keys here (interface and schema), in default.yaml and docs. */
import { listenerSchema, portSchema, type ListenerSection } from './common.js';

export interface StompConfig extends ListenerSection {
  /** STOMP over TLS port (default 61614), used only when a certificate is configured. */
  tlsPort: number;
  [key: string]: unknown;
}

export const stompSchema = listenerSchema({ tlsPort: portSchema }, true);
