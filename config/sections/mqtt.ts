/** `mqtt:` section. The MQTT adapter adds its keys here (interface and schema), in default.yaml and docs. */
import { listenerSchema, portSchema, type ListenerSection } from './common.js';

export interface MqttConfig extends ListenerSection {
  /** MQTT over TLS port (default 8883), used only when a certificate is configured. */
  tlsPort: number;
  [key: string]: unknown;
}

export const mqttSchema = listenerSchema({ tlsPort: portSchema }, true);
