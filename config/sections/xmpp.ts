/** `xmpp:` section. The XMPP adapter adds its keys here (interface and schema), in default.yaml and docs. */
import { listenerSchema, type ListenerSection } from './common.js';

export interface XmppConfig extends ListenerSection {
  /** The XMPP domain served (pubsub lives at `pubsub.<domain>`). STARTTLS on `port` when a certificate is configured. */
  domain: string;
  [key: string]: unknown;
}

export const xmppSchema = listenerSchema(
  { domain: { type: 'string', minLength: 1, 'x-hint': 'a non-empty domain name' } },
  true,
);
