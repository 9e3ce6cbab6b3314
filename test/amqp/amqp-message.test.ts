/**
 * The AMQP rows of the mapping table (docs/amqp.md), one test per field, both directions:
 * AMQP bytes as rhea encodes them -> core Message, and core Message -> AMQP bytes rhea decodes.
 */
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { AmqpDecodeError, AmqpUuid, Decoder } from '../../adapters/amqp/amqp-codec.js';
import { Encoder } from '../../adapters/amqp/amqp-encoder.js';
import { A, decodeAmqpMessage, encodeAmqpMessage } from '../../adapters/amqp/amqp-message.js';
import { createMessage, type Message } from '../../core/message.js';

const NOW = 1_700_000_000_000;
const types = rhea.types as unknown as Record<string, (v: unknown) => unknown>;

function fromAmqp(msg: rhea.Message): ReturnType<typeof decodeAmqpMessage> {
  return decodeAmqpMessage(rhea.message.encode(msg), { bareName: 'queue', now: NOW });
}

function toAmqp(m: Message, o: Partial<Parameters<typeof encodeAmqpMessage>[1]> = {}): rhea.Message {
  return rhea.message.decode(Buffer.from(encodeAmqpMessage(m, { deliveryCount: 0, firstAcquirer: true, queue: m.topic, now: NOW, ...o }))) as unknown as rhea.Message;
}

/** AMQP -> core -> AMQP. */
function roundTrip(msg: rhea.Message): rhea.Message {
  const { message } = fromAmqp(msg);
  message.topic = 'q';
  return toAmqp(message);
}

/** Constructor code of each application property in encoded message bytes. */
function propertyTypes(bytes: Buffer): Record<string, number> {
  const d = new Decoder(bytes);
  const out: Record<string, number> = {};
  while (d.remaining > 0) {
    d.u8();
    const code = Number(d.readValue());
    if (code !== 0x74) {
      d.readValue();
      continue;
    }
    const c = d.u8();
    const wide = c === 0xd1;
    if (wide) d.u32(); else d.u8();
    const count = wide ? d.u32() : d.u8();
    for (let i = 0; i < count; i += 2) {
      const k = d.readValue() as string;
      d.readValue();
      out[k] = d.code;
    }
  }
  return out;
}

function core(init: Partial<Message> = {}): Message {
  return createMessage({ topic: 'a.b', payload: Buffer.from('p'), source: 'mqtt', timestamp: NOW, ...init });
}

describe('amqp message mapping', () => {
  describe('header', () => {
    it('durable <-> durable', () => {
      assert.equal(fromAmqp({ durable: true, body: 'x' }).message.durable, true);
      assert.equal(fromAmqp({ body: 'x' }).message.durable, false);
      assert.equal(toAmqp(core({ durable: true })).durable, true);
      assert.equal(toAmqp(core({ durable: false })).durable ?? false, false);
    });

    it('priority <-> priority (0..9, AMQP values above 9 are 9)', () => {
      assert.equal(fromAmqp({ priority: 7, body: 'x' }).message.priority, 7);
      assert.equal(fromAmqp({ priority: 200, body: 'x' }).message.priority, 9);
      assert.equal(toAmqp(core({ priority: 2 })).priority, 2);
      assert.equal(toAmqp(core({ priority: 4 })).priority ?? 4, 4);
    });

    it('ttl <-> expiry (now + ttl; the remaining time on the way out)', () => {
      assert.equal(fromAmqp({ ttl: 5000, body: 'x' }).message.expiry, NOW + 5000);
      assert.equal(toAmqp(core({ expiry: NOW + 3000 })).ttl, 3000);
      assert.equal(toAmqp(core()).ttl, undefined);
    });

    it('delivery-count and first-acquirer come from the queue', () => {
      const first = toAmqp(core(), { deliveryCount: 0, firstAcquirer: true });
      assert.equal(first.first_acquirer, true);
      const again = toAmqp(core(), { deliveryCount: 3, firstAcquirer: false });
      assert.equal(again.delivery_count, 3);
      assert.equal(again.first_acquirer ?? false, false);
    });
  });

  describe('properties', () => {
    it('message-id: string as is; ulong, uuid and binary as text with the type kept', () => {
      assert.equal(fromAmqp({ message_id: 'ID:1', body: 'x' }).message.messageId, 'ID:1');
      const ulong = fromAmqp({ message_id: 12345, body: 'x' }).message;
      assert.equal(ulong.messageId, '12345');
      assert.equal(roundTrip({ message_id: 12345, body: 'x' }).message_id, 12345);
      const uuid = new AmqpUuid(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
      const u = fromAmqp({ message_id: types.wrap_uuid(uuid.bytes) as never, body: 'x' }).message;
      assert.equal(u.messageId, '00112233-4455-6677-8899-aabbccddeeff');
      assert.deepEqual(roundTrip({ message_id: types.wrap_uuid(uuid.bytes) as never, body: 'x' }).message_id, uuid.bytes);
      const bin = fromAmqp({ message_id: types.wrap_binary(Buffer.from([1, 2])) as never, body: 'x' }).message;
      assert.equal(bin.messageId, '0102');
      assert.equal(bin.annotations?.[A.messageIdType], 'binary');
      assert.equal(toAmqp(core({ messageId: 'm-1' })).message_id, 'm-1');
    });

    it('user-id: kept for AMQP consumers and returned for checking', () => {
      const d = fromAmqp({ user_id: Buffer.from('alice') as never, body: 'x' });
      assert.deepEqual(d.userId, Buffer.from('alice'));
      assert.deepEqual(roundTrip({ user_id: Buffer.from('alice') as never, body: 'x' }).user_id, Buffer.from('alice'));
    });

    it('to: returned for the anonymous relay, kept as given; other protocols get the topic or queue address', () => {
      const d = fromAmqp({ to: 'queue://x', body: 'x' });
      assert.equal(d.to, 'queue://x');
      assert.equal(roundTrip({ to: 'queue://x', body: 'x' }).to, 'queue://x');
      assert.equal(toAmqp(core({ topic: 'a.b' }), { queue: 'tmp.amqp.1.1' }).to, '/topic/a.b');
      assert.equal(toAmqp(core({ topic: 'jobs' }), { queue: 'jobs' }).to, '/queue/jobs');
    });

    it('subject: kept for AMQP consumers', () => {
      assert.equal(fromAmqp({ subject: 'greeting', body: 'x' }).message.annotations?.[A.subject], 'greeting');
      assert.equal(roundTrip({ subject: 'greeting', body: 'x' }).subject, 'greeting');
    });

    it('reply-to <-> replyTo in the core form, the AMQP form kept for AMQP consumers', () => {
      assert.equal(fromAmqp({ reply_to: '/queue/r', body: 'x' }).message.replyTo, '/queue/r');
      assert.equal(fromAmqp({ reply_to: 'queue://r', body: 'x' }).message.replyTo, '/queue/r');
      assert.equal(fromAmqp({ reply_to: 'topic://t.x', body: 'x' }).message.replyTo, '/topic/t.x');
      assert.equal(fromAmqp({ reply_to: 'http://elsewhere', body: 'x' }).message.replyTo, 'http://elsewhere');
      assert.equal(roundTrip({ reply_to: 'queue://r', body: 'x' }).reply_to, 'queue://r');
      assert.equal(toAmqp(core({ replyTo: '/queue/replies' })).reply_to, '/queue/replies');
    });

    it('correlation-id <-> correlationId (binary stays binary)', () => {
      assert.equal(fromAmqp({ correlation_id: 'c-1', body: 'x' }).message.correlationId, 'c-1');
      assert.deepEqual(fromAmqp({ correlation_id: types.wrap_binary(Buffer.from([9])) as never, body: 'x' }).message.correlationId, Buffer.from([9]));
      assert.equal(roundTrip({ correlation_id: 77, body: 'x' }).correlation_id, 77);
      assert.equal(toAmqp(core({ correlationId: 'c-2' })).correlation_id, 'c-2');
      assert.deepEqual(toAmqp(core({ correlationId: Buffer.from([1, 2, 3]) })).correlation_id, Buffer.from([1, 2, 3]));
    });

    it('content-type and content-encoding <-> contentType and contentEncoding', () => {
      const m = fromAmqp({ content_type: 'application/json', content_encoding: 'gzip', body: 'x' }).message;
      assert.equal(m.contentType, 'application/json');
      assert.equal(m.contentEncoding, 'gzip');
      const out = toAmqp(core({ contentType: 'text/plain', contentEncoding: 'utf-8' }));
      assert.equal(out.content_type, 'text/plain');
      assert.equal(out.content_encoding, 'utf-8');
    });

    it('absolute-expiry-time <-> expiry (the earlier of it and the ttl)', () => {
      assert.equal(fromAmqp({ absolute_expiry_time: NOW + 9000, body: 'x' } as never).message.expiry, NOW + 9000);
      assert.equal(fromAmqp({ absolute_expiry_time: NOW + 9000, ttl: 1000, body: 'x' } as never).message.expiry, NOW + 1000);
      assert.equal((roundTrip({ absolute_expiry_time: NOW + 9000, body: 'x' } as never).absolute_expiry_time as unknown as Date).getTime(), NOW + 9000);
      assert.equal((toAmqp(core({ expiry: NOW + 5000 })).absolute_expiry_time as unknown as Date).getTime(), NOW + 5000);
    });

    it('creation-time <-> timestamp', () => {
      assert.equal(fromAmqp({ creation_time: NOW - 10, body: 'x' } as never).message.timestamp, NOW - 10);
      assert.equal(fromAmqp({ body: 'x' }).message.timestamp, NOW);
      assert.equal(roundTrip({ body: 'x' }).creation_time, undefined);
      assert.equal((toAmqp(core({ timestamp: NOW - 5 })).creation_time as unknown as Date).getTime(), NOW - 5);
    });

    it('group-id, group-sequence, reply-to-group-id: kept for AMQP consumers', () => {
      const out = roundTrip({ group_id: 'g', group_sequence: 4, reply_to_group_id: 'rg', body: 'x' });
      assert.equal(out.group_id, 'g');
      assert.equal(out.group_sequence, 4);
      assert.equal(out.reply_to_group_id, 'rg');
    });
  });

  describe('application-properties <-> headers', () => {
    it('keeps strings, integers, longs (bigint), booleans, doubles, binary and null', () => {
      const h = fromAmqp({
        application_properties: {
          s: 'text', i: types.wrap_int(-5) as never, l: types.wrap_long(Buffer.from('0000000100000000', 'hex')) as never,
          b: true, d: 2.5, bin: Buffer.from([1]), n: null,
        },
        body: 'x',
      }).message.headers;
      assert.deepEqual(h, { s: 'text', i: -5, l: 4294967296n, b: true, d: 2.5, bin: Buffer.from([1]), n: null });
    });

    it('restores other AMQP types for AMQP consumers (ubyte, short, uint, float, symbol, timestamp, uuid, char)', () => {
      const msg = {
        application_properties: {
          ub: types.wrap_ubyte(200), sh: types.wrap_short(-3), ui: types.wrap_uint(70000), f: types.wrap_float(1.5),
          sym: types.wrap_symbol('s'), ts: types.wrap_timestamp(NOW), u: types.wrap_uuid(Buffer.alloc(16, 1)), c: types.wrap_char(0x41),
          dbl: types.wrap_double(3),
        } as never,
        body: 'x',
      };
      const { message } = fromAmqp(msg);
      assert.equal(message.headers.ub, 200);
      assert.equal(message.headers.sym, 's');
      assert.equal(message.headers.c, 'A');
      message.topic = 'q';
      const bytes = encodeAmqpMessage(message, { deliveryCount: 0, firstAcquirer: true, queue: 'q', now: NOW });
      assert.deepEqual(propertyTypes(Buffer.from(bytes)), propertyTypes(rhea.message.encode(msg)));
    });

    it('headers from other protocols become application-properties with their types', () => {
      const m = core({ headers: { s: 'v', n: 3, big: 2n ** 60n + 1n, f: 0.5, b: false, bin: Buffer.from('z'), nul: null } });
      const out = toAmqp(m);
      assert.deepEqual(out.application_properties, { s: 'v', n: 3, big: Buffer.from('1000000000000001', 'hex'), f: 0.5, b: false, bin: Buffer.from('z'), nul: null });
      const bytes = Buffer.from(encodeAmqpMessage(m, { deliveryCount: 0, firstAcquirer: true, queue: 'a.b' }));
      assert.deepEqual(propertyTypes(bytes), { s: 0xa1, n: 0x54, big: 0x81, f: 0x82, b: 0x42, bin: 0xa0, nul: 0x40 });
    });
  });

  describe('message-annotations', () => {
    it('x-opt-partition-key <-> key', () => {
      assert.deepEqual(fromAmqp({ message_annotations: { 'x-opt-partition-key': 'dev-1' }, body: 'x' }).message.key, Buffer.from('dev-1'));
      assert.equal(toAmqp(core({ key: Buffer.from('k1') })).message_annotations?.['x-opt-partition-key'], 'k1');
      assert.deepEqual(toAmqp(core({ key: Buffer.from([0xff, 0xfe]) })).message_annotations?.['x-opt-partition-key'], Buffer.from([0xff, 0xfe]));
    });

    it('other annotations pass AMQP -> AMQP', () => {
      const out = roundTrip({ message_annotations: { 'x-opt-jms-msg-type': 3, 'x-opt-partition-key': 'p' }, body: 'x' });
      assert.equal(out.message_annotations?.['x-opt-jms-msg-type'], 3);
      assert.equal(out.message_annotations?.['x-opt-partition-key'], 'p');
    });

    it('delivery-annotations are not forwarded', () => {
      assert.equal(roundTrip({ delivery_annotations: { hop: 1 }, body: 'x' } as never).delivery_annotations, undefined);
    });
  });

  describe('body', () => {
    it('one data section <-> payload', () => {
      const m = fromAmqp({ body: rhea.message.data_section(Buffer.from([0, 1, 2])) }).message;
      assert.deepEqual(m.payload, Buffer.from([0, 1, 2]));
      assert.equal(m.text, undefined);
      const out = roundTrip({ body: rhea.message.data_section(Buffer.from([0, 1, 2])) });
      assert.deepEqual((out.body as { typecode: number; content: Buffer }).content, Buffer.from([0, 1, 2]));
    });

    it('amqp-value string <-> UTF-8 payload marked text, back to AMQP as amqp-value', () => {
      const m = fromAmqp({ body: 'héllo' }).message;
      assert.deepEqual(m.payload, Buffer.from('héllo'));
      assert.equal(m.text, true);
      assert.equal(roundTrip({ body: 'héllo' }).body, 'héllo');
    });

    it('messages from other protocols are one data section, even text', () => {
      const out = toAmqp(core({ payload: Buffer.from('{"t":1}'), text: true }));
      assert.equal((out.body as { typecode: number }).typecode, 0x75);
      assert.deepEqual((out.body as { content: Buffer }).content, Buffer.from('{"t":1}'));
    });

    it('other bodies pass AMQP -> AMQP untouched; the payload is best effort', () => {
      const cases: Array<[rhea.Message['body'], string | Buffer]> = [
        [{ a: 1, b: [true, 'x'] }, '{"a":1,"b":[true,"x"]}'],
        [42, '42'],
        [rhea.message.sequence_section([1, 'two']), '[1,"two"]'],
        [rhea.message.data_sections([Buffer.from('ab'), Buffer.from('cd')]), Buffer.from('abcd')],
        [Buffer.from([7, 7]), Buffer.from([7, 7])],
        [null, Buffer.alloc(0)],
      ];
      for (const [b, payload] of cases) {
        const bytes = rhea.message.encode({ body: b });
        const { message } = decodeAmqpMessage(bytes, { bareName: 'queue', now: NOW });
        assert.deepEqual(message.payload, Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
        assert.ok(Buffer.isBuffer(message.annotations?.[A.body]));
        message.topic = 'q';
        const out = encodeAmqpMessage(message, { deliveryCount: 0, firstAcquirer: false, queue: 'q', now: NOW });
        assert.ok(out.includes(message.annotations![A.body] as Buffer));
        assert.deepEqual(rhea.message.decode(Buffer.from(out)).body, rhea.message.decode(bytes).body);
      }
    });

    it('a message without a body has an empty payload', () => {
      const e = new Encoder();
      e.descriptor(0x73);
      e.value(['id']);
      assert.equal(decodeAmqpMessage(Buffer.from(e.finish()), { bareName: 'queue' }).message.payload.length, 0);
    });

    it('a footer passes AMQP -> AMQP', () => {
      const out = roundTrip({ body: 'x', footer: { sig: 'abc' } } as never);
      assert.deepEqual((out as { footer?: unknown }).footer, { sig: 'abc' });
    });
  });

  describe('malformed input', () => {
    for (const [name, bytes] of [
      ['not a described section', Buffer.from([0xa1, 0x01, 0x78])],
      ['truncated', Buffer.from([0x00, 0x53, 0x75, 0xa0, 0x10, 0x01])],
      ['unknown section', Buffer.from([0x00, 0x53, 0x99, 0x40])],
      ['header that is not a list', Buffer.from([0x00, 0x53, 0x70, 0xa1, 0x01, 0x78])],
      ['unknown type code', Buffer.from([0x00, 0x53, 0x77, 0xff])],
      ['list count beyond its size', Buffer.from([0x00, 0x53, 0x73, 0xc0, 0x01, 0xff])],
      ['deep nesting', Buffer.concat([Buffer.from([0x00, 0x53, 0x77]), Buffer.alloc(200, 0x00)])],
    ] as const) {
      it(`${name} is an AmqpDecodeError`, () => {
        assert.throws(() => decodeAmqpMessage(bytes, { bareName: 'queue' }), AmqpDecodeError);
      });
    }
  });
});
