/**
 * Outgoing PUBLISH encoding for one connection: MQTT 5 topic aliases we assign, and, shared by
 * every connection, the last message's encoding per variant (v5, QoS > 0, retain), so a fan-out
 * encodes each message once per variant and only patches the packet id.
 */
import type { Message } from '../../core/message.js';
import { encodePublish, encodePublishProps, publishSize, type EncodedPublish } from './codec.js';
import { messageToProps } from './mqtt-message.js';
import { coreTopicToMqtt } from './topics.js';

/** The last message encoded, by variant: a fan-out encodes each message once per variant. */
let lastMessage: Message | null = null;
const lastEncoded: Array<EncodedPublish | undefined> = new Array(8);
const EMPTY_TOPIC = Buffer.alloc(0);

let lastOutCore: string | null = null;
let lastOutTopic = '';

/** Core name -> MQTT topic, remembering the last one. */
function outboundTopic(core: string): string {
  if (core !== lastOutCore) {
    lastOutCore = core;
    lastOutTopic = coreTopicToMqtt(core);
  }
  return lastOutTopic;
}

export class PublishEncoder {
  /** Topic -> alias we assigned (MQTT 5, when the client allows aliases). */
  private aliases: Map<string, number> | null = null;
  private aliasMax = 0;

  /** At most `max` aliases (0: none). */
  enableAliases(max: number): void {
    this.aliasMax = max;
    this.aliases = max > 0 ? new Map() : null;
  }

  /** The PUBLISH packet for `m`, or null when it exceeds the client's `maxPacketSize`. */
  encode(m: Message, qos: number, retain: boolean, dup: boolean, packetId: number, subIds: number[] | undefined, v5: boolean, maxPacketSize: number): Buffer | null {
    const cacheable = subIds === undefined && !dup && this.aliases === null && (!v5 || m.expiry === undefined);
    if (cacheable) {
      if (lastMessage !== m) {
        lastMessage = m;
        lastEncoded.fill(undefined);
      }
      const slot = (v5 ? 4 : 0) | (qos > 0 ? 2 : 0) | (retain ? 1 : 0);
      let enc = lastEncoded[slot];
      if (!enc) {
        const props = v5 ? encodePublishProps(messageToProps(m, Date.now())) : null;
        enc = encodePublish(Buffer.from(outboundTopic(m.topic)), m.payload, qos, retain, false, 0, props);
        lastEncoded[slot] = enc;
      }
      if (enc.buf.length > maxPacketSize) return null;
      if (qos === 0) return enc.buf;
      const copy = Buffer.allocUnsafe(enc.buf.length);
      enc.buf.copy(copy);
      copy.writeUInt16BE(packetId, enc.idOffset);
      return copy;
    }
    const topic = outboundTopic(m.topic);
    let topicBuf = Buffer.from(topic);
    let propsBuf: Buffer | null = null;
    let newAlias = false;
    if (v5) {
      const props = messageToProps(m, Date.now()) ?? {};
      if (subIds) props.subscriptionIdentifiers = subIds;
      if (this.aliases) {
        const alias = this.aliases.get(topic);
        if (alias !== undefined) {
          props.topicAlias = alias;
          topicBuf = EMPTY_TOPIC;
        } else if (this.aliases.size < this.aliasMax) {
          props.topicAlias = this.aliases.size + 1;
          this.aliases.set(topic, props.topicAlias);
          newAlias = true;
        }
      }
      propsBuf = encodePublishProps(props);
    }
    if (publishSize(topicBuf.length, m.payload.length, qos, propsBuf ? propsBuf.length : 0) > maxPacketSize) {
      if (newAlias) this.aliases!.delete(topic);
      return null;
    }
    return encodePublish(topicBuf, m.payload, qos, retain, dup, packetId, propsBuf).buf;
  }
}
