/** The XMPP rows of the mapping table (adapters/xmpp/xmpp-message.ts), one test per row. */
import assert from 'node:assert/strict';
import { createMessage } from '../../core/message.js';
import { contentToElement, itemToMessage, PayloadError, standaloneXml } from '../../adapters/xmpp/xmpp-message.js';
import { parseXml, XmlParseError } from '../../adapters/xmpp/xml.js';

const item = (inner: string) => parseXml(`<item xmlns='http://jabber.org/protocol/pubsub' id='i1'>${inner}</item>`);

describe('xmpp payload mapping', () => {
  describe('item -> core message', () => {
    it('<payload encoding=utf-8> gives the UTF-8 bytes, its content type and the text flag', () => {
      const m = itemToMessage('a.b', item(`<payload xmlns='urn:junction:payload:0' content-type='text/plain; charset=utf-8' encoding='utf-8'>héllo &amp; &lt;x&gt;</payload>`), 'i1', 'alice@localhost');
      assert.deepEqual(m.payload, Buffer.from('héllo & <x>', 'utf8'));
      assert.equal(m.contentType, 'text/plain; charset=utf-8');
      assert.equal(m.text, true);
    });

    it('<payload encoding=base64> gives the decoded bytes', () => {
      const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      const m = itemToMessage('a.b', item(`<payload xmlns='urn:junction:payload:0' content-type='application/octet-stream' encoding='base64'>${bytes.toString('base64')}</payload>`), 'i1', 'x@localhost');
      assert.deepEqual(m.payload, bytes);
      assert.equal(m.contentType, 'application/octet-stream');
      assert.equal(m.text, false);
    });

    it('a malformed <payload> is refused', () => {
      assert.throws(() => itemToMessage('a.b', item(`<payload xmlns='urn:junction:payload:0' encoding='base64'>**</payload>`), 'i1', 'x'), PayloadError);
      assert.throws(() => itemToMessage('a.b', item(`<payload xmlns='urn:junction:payload:0' encoding='rot13'>x</payload>`), 'i1', 'x'), PayloadError);
    });

    it('XEP-0335 <json> gives the JSON text with content type application/json', () => {
      const m = itemToMessage('a.b', item(`<json xmlns='urn:xmpp:json:0'>{"t":21.5,"u":"C"}</json>`), 'i1', 'x');
      assert.equal(m.payload.toString(), '{"t":21.5,"u":"C"}');
      assert.equal(m.contentType, 'application/json');
    });

    it('any other XML payload is carried as its XML text with content type application/xml', () => {
      const m = itemToMessage('a.b', item(`<entry xmlns='http://www.w3.org/2005/Atom'><title>T</title></entry>`), 'i1', 'x');
      assert.equal(m.payload.toString(), `<entry xmlns='http://www.w3.org/2005/Atom'><title>T</title></entry>`);
      assert.equal(m.contentType, 'application/xml');
    });

    it('an XML payload whose namespace comes from the item keeps it', () => {
      const el = parseXml(`<item xmlns='urn:x'><geo><lat>1</lat></geo></item>`).elements()[0];
      assert.equal(standaloneXml(el), `<geo xmlns='urn:x'><lat>1</lat></geo>`);
    });

    it('an empty item gives an empty payload', () => {
      const m = itemToMessage('a.b', item(''), 'i1', 'x');
      assert.equal(m.payload.length, 0);
      assert.equal(m.contentType, undefined);
    });

    it('item id = messageId, node = topic, durable, source xmpp, publisher annotation', () => {
      const m = itemToMessage('sensors.t', item(''), 'item-7', 'alice@localhost');
      assert.deepEqual([m.topic, m.messageId, m.durable, m.source, m.annotations?.['xmpp.publisher']], ['sensors.t', 'item-7', true, 'xmpp', 'alice@localhost']);
    });
  });

  describe('core message -> item', () => {
    it('JSON content type with JSON text gives <json xmlns=urn:xmpp:json:0>', () => {
      const el = contentToElement(createMessage({ topic: 't', payload: Buffer.from('{"a":[1,2]}'), contentType: 'application/json' }));
      assert.equal(el.toString(), `<json xmlns='urn:xmpp:json:0'>{"a":[1,2]}</json>`);
    });

    it('JSON content type with text that is not JSON falls back to <payload>', () => {
      const el = contentToElement(createMessage({ topic: 't', payload: Buffer.from('{oops'), contentType: 'application/json' }));
      assert.equal(el.local, 'payload');
      assert.equal(el.text(), '{oops');
    });

    it('an XML payload that re-serialises to the same bytes is embedded as XML', () => {
      const xml = `<entry xmlns='http://www.w3.org/2005/Atom'><title>T</title></entry>`;
      const el = contentToElement(createMessage({ topic: 't', payload: Buffer.from(xml), contentType: 'application/xml' }));
      assert.equal(el.toString(), xml);
    });

    it('an XML payload that would not keep its bytes is carried as text in <payload>', () => {
      const xml = `<?xml version="1.0"?>\n<a x="1"/>`;
      const el = contentToElement(createMessage({ topic: 't', payload: Buffer.from(xml), contentType: 'application/xml' }));
      assert.equal(el.local, 'payload');
      assert.equal(el.attr('content-type'), 'application/xml');
      assert.equal(el.text(), xml);
    });

    it('UTF-8 text gives <payload encoding=utf-8> with the content type', () => {
      const el = contentToElement(createMessage({ topic: 't', payload: Buffer.from('21.5 °C'), contentType: 'text/plain' }));
      assert.equal(el.toString(), `<payload xmlns='urn:junction:payload:0' content-type='text/plain' encoding='utf-8'>21.5 °C</payload>`);
    });

    it('bytes that are not UTF-8 (or not XML-safe text, such as CR or NUL) give base64', () => {
      for (const bytes of [Buffer.from([0xff, 0x00, 0x80]), Buffer.from('a\r\nb'), Buffer.from('a\u0000b')]) {
        const el = contentToElement(createMessage({ topic: 't', payload: bytes }));
        assert.equal(el.attr('encoding'), 'base64');
        assert.equal(el.attr('content-type'), undefined);
        assert.deepEqual(Buffer.from(el.text(), 'base64'), bytes);
      }
    });

    it('bytes survive core -> XMPP -> core for every form', () => {
      const cases = [
        createMessage({ topic: 't', payload: Buffer.from('{"k":1}'), contentType: 'application/json' }),
        createMessage({ topic: 't', payload: Buffer.from(`<a xmlns='urn:a'>1</a>`), contentType: 'application/xml' }),
        createMessage({ topic: 't', payload: Buffer.from('plain'), contentType: 'text/plain' }),
        createMessage({ topic: 't', payload: Buffer.from([1, 2, 3, 250]) }),
      ];
      for (const m of cases) {
        const el = contentToElement(m);
        const it2 = parseXml(`<item xmlns='http://jabber.org/protocol/pubsub'>${el.toString()}</item>`);
        const back = itemToMessage('t', it2, 'i', 'x');
        assert.deepEqual(back.payload, m.payload);
      }
    });
  });

  describe('stored-stanza parser', () => {
    it('refuses DTDs and never expands entities', () => {
      assert.throws(() => parseXml('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'), XmlParseError);
      assert.throws(() => parseXml('<a>&x;</a>'), XmlParseError);
    });
  });
});
