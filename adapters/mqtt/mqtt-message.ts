/**
 * MQTT PUBLISH <-> core message. Mapping (docs/mqtt.md has the table):
 *
 * | MQTT                         | core                                             |
 * |------------------------------|--------------------------------------------------|
 * | topic `a/b.c`                | topic `a.b/c` ('/' and '.' swap)                  |
 * | payload                      | payload (same bytes)                              |
 * | QoS 0 / 1 / 2                | durable false / true / true (+ annotation mqtt.qos=2) |
 * | RETAIN                       | broker.retained + annotation mqtt.retain          |
 * | user properties              | headers (a repeated name: first value in headers, all pairs in annotation mqtt.userProperties) |
 * | content type                 | contentType                                       |
 * | payload format indicator 1   | text = true                                       |
 * | correlation data             | correlationId (Buffer)                            |
 * | response topic `a/b`         | replyTo `/topic/a.b`                              |
 * | message expiry interval (s)  | expiry (absolute ms)                              |
 * | client id of the publisher   | origin (no-local)                                 |
 */
import type { IPublishPacket } from 'mqtt-packet';
import { headerToString, type Headers, type HeaderValue, type Message } from '../../core/message.js';
import type { PublishProps } from './codec.js';
import { swapSeparators } from './topics.js';

export const ANN_QOS = 'mqtt.qos';
export const ANN_RETAIN = 'mqtt.retain';
export const ANN_FROM_RETAINED = 'mqtt.fromRetained';
export const ANN_USER_PROPERTIES = 'mqtt.userProperties';
const TOPIC_PREFIX = '/topic/';

type PublishProperties = NonNullable<IPublishPacket['properties']>;

/** A problem with the properties of an incoming PUBLISH (or will), or null. */
export function checkPublishProperties(p: PublishProperties | undefined): string | null {
  if (!p) return null;
  for (const k of ['payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', 'responseTopic', 'correlationData', 'contentType'] as const) {
    const v = p[k];
    if (v === null || Array.isArray(v)) return `property ${k} is repeated or malformed`;
  }
  if (p.responseTopic !== undefined) {
    if (typeof p.responseTopic !== 'string' || p.responseTopic.length === 0 || /[+#]/.test(p.responseTopic)) return 'invalid response topic';
  }
  if (p.correlationData !== undefined && !Buffer.isBuffer(p.correlationData)) return 'invalid correlation data';
  if (p.userProperties) {
    for (const v of Object.values(p.userProperties)) {
      if (v === null || (Array.isArray(v) && v.some((x) => typeof x !== 'string'))) return 'invalid user property';
    }
  }
  return null;
}

/** Builds the core message for an incoming PUBLISH (or a will). `topic` is already the core name. */
export function publishToMessage(
  topic: string, payload: Buffer, qos: number, retain: boolean, props: PublishProperties | undefined, clientId: string, now: number,
): Message {
  const m: Message = {
    topic,
    // A copy: the parsed payload is a view of the socket chunk, which must not be pinned by a queued message.
    payload: Buffer.from(payload),
    headers: {},
    timestamp: now,
    durable: qos > 0,
    source: 'mqtt',
    origin: clientId,
  };
  let annotations: Record<string, HeaderValue> | undefined;
  if (qos === 2) (annotations ??= {})[ANN_QOS] = 2;
  if (retain) (annotations ??= {})[ANN_RETAIN] = true;
  if (props) {
    if (props.userProperties) {
      const headers: Headers = {};
      let repeated = false;
      const pairs: Array<[string, string]> = [];
      for (const [k, v] of Object.entries(props.userProperties)) {
        if (Array.isArray(v)) {
          repeated = true;
          headers[k] = v[0];
          for (const x of v) pairs.push([k, x]);
        } else {
          headers[k] = v;
          pairs.push([k, v]);
        }
      }
      m.headers = headers;
      if (repeated) (annotations ??= {})[ANN_USER_PROPERTIES] = JSON.stringify(pairs);
    }
    if (props.contentType !== undefined) m.contentType = props.contentType;
    if (props.payloadFormatIndicator) m.text = true;
    if (props.correlationData !== undefined) m.correlationId = Buffer.from(props.correlationData);
    if (props.responseTopic !== undefined) m.replyTo = TOPIC_PREFIX + swapSeparators(props.responseTopic);
    if (props.messageExpiryInterval !== undefined) m.expiry = now + props.messageExpiryInterval * 1000;
  }
  if (annotations) m.annotations = annotations;
  return m;
}

/** The QoS a message was published with: MQTT's own, or durable = 1 for other protocols. */
export function messageQos(m: Message): number {
  const q = m.annotations?.[ANN_QOS];
  if (typeof q === 'number') return q;
  return m.durable ? 1 : 0;
}

/** The MQTT response topic for a core reply-to, or undefined (a `/queue/x` has no MQTT form). */
export function replyToTopic(replyTo: string | undefined): string | undefined {
  if (replyTo === undefined || !replyTo.startsWith(TOPIC_PREFIX)) return undefined;
  const t = swapSeparators(replyTo.slice(TOPIC_PREFIX.length));
  return t.length > 0 && Buffer.byteLength(t) <= 65535 ? t : undefined;
}

function fits(s: string): boolean {
  return s.length <= 21845 || Buffer.byteLength(s) <= 65535;
}

/** MQTT 5 properties carried by a core message (those that do not depend on the subscriber). */
export function messageToProps(m: Message, now: number): PublishProps | undefined {
  let p: PublishProps | undefined;
  const userProperties = userPropertiesOf(m);
  if (userProperties) (p ??= {}).userProperties = userProperties;
  if (m.contentType !== undefined && fits(m.contentType) && !m.contentType.includes('\u0000')) (p ??= {}).contentType = m.contentType;
  if (m.text) (p ??= {}).payloadFormatIndicator = true;
  if (m.correlationId !== undefined) {
    const c = typeof m.correlationId === 'string' ? Buffer.from(m.correlationId, 'utf8') : m.correlationId;
    if (c.length <= 65535) (p ??= {}).correlationData = c;
  }
  const rt = replyToTopic(m.replyTo);
  if (rt !== undefined) (p ??= {}).responseTopic = rt;
  if (m.expiry !== undefined) (p ??= {}).messageExpiryInterval = Math.min(0xffffffff, Math.max(1, Math.ceil((m.expiry - now) / 1000)));
  return p;
}

function userPropertiesOf(m: Message): Array<[string, string]> | undefined {
  const names = Object.keys(m.headers);
  const stored = m.annotations?.[ANN_USER_PROPERTIES];
  if (names.length === 0 && typeof stored !== 'string') return undefined;
  const out: Array<[string, string]> = [];
  const done = new Set<string>();
  if (typeof stored === 'string') {
    try {
      const pairs = JSON.parse(stored) as Array<[string, string]>;
      for (const [k, v] of pairs) {
        // Pairs whose name is still a header (unchanged on the way) keep their order and repeats.
        if (typeof k === 'string' && typeof v === 'string' && k in m.headers) {
          out.push([k, v]);
          done.add(k);
        }
      }
    } catch { /* ignore a damaged annotation */ }
  }
  for (const k of names) {
    if (done.has(k) || k.includes('\u0000') || !fits(k)) continue;
    const v = headerToString(m.headers[k]);
    if (v.includes('\u0000') || !fits(v)) continue;
    out.push([k, v]);
  }
  return out.length > 0 ? out : undefined;
}
