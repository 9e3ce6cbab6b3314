/**
 * MQTT 3.1, 3.1.1 and 5 packets through the broker's own read path (adapters/mqtt/codec.ts):
 * the Framer, the PUBLISH / acknowledgement / empty-packet fast paths and mqtt-packet's parser
 * (with the UTF-8 check): the first packet with no version yet (as CONNECT is read), the rest as
 * MQTT 3.1.1 in one pass and as MQTT 5 in another.
 * Expected: FrameError and the parser's 'error' events. A packet accepted with a packet
 * identifier outside 0..65535 is counted separately ("accepted-invalid"): the parser let a
 * malformed packet through and the handlers must not trust it.
 */
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { createParser, Framer, parseAckFast, parseEmptyFast, parsePublishFast } from '../../adapters/mqtt/codec.js';
import { chunksOf } from '../prng.js';
import { CrashError, errorSignature, type FuzzTarget } from '../target.js';

const NEEDS_ID = new Set(['puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe', 'suback', 'unsuback']);

function gen(p: Record<string, unknown>, v: number): Buffer {
  return mqttPacket.generate(p as unknown as Packet, { protocolVersion: v });
}

export function mqttSeeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const v of [3, 4, 5]) {
    const v5 = v === 5;
    const props5 = v5 ? { properties: { userProperties: { a: 'b' }, reasonString: 'r' } } : {};
    const connect = {
      cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: v, clean: true, clientId: 'fuzz-client', keepalive: 30,
      username: 'user', password: Buffer.from('pass'),
      will: { topic: 'will/t', payload: Buffer.from('bye'), qos: 1, retain: false, ...(v5 ? { properties: { willDelayInterval: 5, contentType: 'text/plain' } } : {}) },
      ...(v5 ? { properties: { sessionExpiryInterval: 60, receiveMaximum: 10, maximumPacketSize: 65536, topicAliasMaximum: 5, requestProblemInformation: true, userProperties: { k: 'v' } } } : {}),
    };
    const packets: Array<Record<string, unknown>> = [
      connect,
      { cmd: 'connect', protocolId: v === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: v, clean: v !== 3, clientId: v === 3 ? 'c' : '', keepalive: 0 },
      { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false },
      { cmd: 'publish', topic: 'a/b/c', payload: Buffer.from('x'.repeat(40)), qos: 1, messageId: 7, retain: true, dup: false },
      { cmd: 'publish', topic: 'q2', payload: Buffer.alloc(0), qos: 2, messageId: 65535, retain: false, dup: true,
        ...(v5 ? { properties: { payloadFormatIndicator: true, messageExpiryInterval: 10, topicAlias: 1, responseTopic: 'r/t', correlationData: Buffer.from('c'), userProperties: { u: 'p' }, contentType: 'c/t' } } : {}) },
      { cmd: 'puback', messageId: 7, ...(v5 ? { reasonCode: 16, ...props5 } : {}) },
      { cmd: 'pubrec', messageId: 8, ...(v5 ? { reasonCode: 0 } : {}) },
      { cmd: 'pubrel', messageId: 8, ...(v5 ? { reasonCode: 146, ...props5 } : {}) },
      { cmd: 'pubcomp', messageId: 8 },
      { cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/+/c', qos: 1, ...(v5 ? { nl: true, rap: true, rh: 2 } : {}) }, { topic: '#', qos: 2 }],
        ...(v5 ? { properties: { subscriptionIdentifier: 12, userProperties: { s: 'i' } } } : {}) },
      { cmd: 'suback', messageId: 9, granted: [0, 1, 128], ...props5 },
      { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['a/+/c', '#'], ...(v5 ? { properties: { userProperties: { x: 'y' } } } : {}) },
      { cmd: 'unsuback', messageId: 10, ...(v5 ? { granted: [0, 17] } : {}) },
      { cmd: 'connack', returnCode: 0, sessionPresent: false, ...(v5 ? { reasonCode: 0, properties: { assignedClientIdentifier: 'id', serverKeepAlive: 10 } } : {}) },
      { cmd: 'pingreq' },
      { cmd: 'pingresp' },
      { cmd: 'disconnect', ...(v5 ? { reasonCode: 4, properties: { sessionExpiryInterval: 0, reasonString: 'bye', serverReference: 's' } } : {}) },
    ];
    if (v5) packets.push({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from('n,,n=user,r=abc') } });
    const encoded = packets.map((p) => gen(p, v));
    out.push(...encoded);
    // A whole session: CONNECT then everything else, as a client would pipeline it.
    out.push(Buffer.concat([encoded[0], ...encoded.slice(2)]));
  }
  return out;
}

export const MQTT_DICTIONARY = [
  Buffer.from([0x62, 0x00]), Buffer.from([0x50, 0x00]), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]),
  Buffer.from([0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62]), Buffer.from([0x0b, 0x80, 0x80, 0x80, 0x80]), Buffer.from([0xc0, 0x80]), Buffer.from('\u0000'),
];

/** One pass over the input as a connection reads it: the first packet with no version yet, the rest with `version`. */
function readAs(input: Buffer, sessionVersion: number, seen: string[]): void {
  let version: number | undefined;
  const onPacket = (p: Packet): void => {
    const id = (p as { messageId?: unknown }).messageId;
    const needsId = NEEDS_ID.has(p.cmd) || (p.cmd === 'publish' && (p as { qos?: number }).qos! > 0);
    if (needsId && (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 65535)) seen.push(`accepted-invalid:${p.cmd}`);
    else seen.push(p.cmd);
  };
  const framer = new Framer(() => 1 << 20, (chunk, start, body, end) => {
    if (version !== undefined) {
      const type = chunk[start] >> 4;
      let p: Packet | null | 'malformed' = null;
      try {
        if (type === 3) p = parsePublishFast(chunk, start, body, end, version === 5);
        else if (type >= 4 && type <= 7) p = parseAckFast(chunk, start, body, end);
        else if (type === 12 || type === 14) p = parseEmptyFast(chunk, start, body, end);
      } catch (err) {
        throw new CrashError(err, 'mqtt fast path');
      }
      if (p === 'malformed') { seen.push('malformed-publish'); return; }
      if (p !== null) { onPacket(p); return; }
    }
    const parser = createParser(onPacket, (e) => seen.push(errorSignature(e)), version);
    try {
      parser.parse(chunk.subarray(start, end));
    } catch (err) {
      throw new CrashError(err, 'mqtt-packet parser');
    }
    version = sessionVersion;
  }, (e) => {
    seen.push(`frame:${e.kind}`);
    framer.stopped = true;
  });
  for (const c of chunksOf(input)) {
    if (framer.stopped) break;
    try {
      framer.push(c);
    } catch (err) {
      if (err instanceof CrashError) throw err;
      throw new CrashError(err, 'mqtt Framer');
    }
  }
}

export function mqttTarget(): FuzzTarget & { acceptedInvalid: number } {
  const t = {
    name: 'mqtt',
    dictionary: MQTT_DICTIONARY,
    acceptedInvalid: 0,
    seeds: mqttSeeds,
    run(input: Buffer): string {
      const seen: string[] = [];
      readAs(input, 4, seen);
      readAs(input, 5, seen);
      if (seen.some((s) => s.startsWith('accepted-invalid'))) t.acceptedInvalid++;
      return seen.slice(0, 6).join(',');
    },
  };
  return t;
}
