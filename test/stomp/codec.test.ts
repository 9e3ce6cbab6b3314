import assert from 'node:assert/strict';
import { encodeFrame, encodeReceipt, escapeHeader, unescapeHeader, type StompFrame, type StompVersion } from '../../adapters/stomp/frame.js';
import { StompParseError, StompParser } from '../../adapters/stomp/parser.js';

const LIMITS = { maxFrameSize: 4096, maxHeaders: 16, maxHeaderLength: 256 };

function parse(input: string | Buffer | Array<string | Buffer>, version: StompVersion | null = '1.2', limits = LIMITS): StompFrame[] {
  const out: StompFrame[] = [];
  const p = new StompParser(limits, (f) => out.push(f));
  p.version = version;
  for (const chunk of Array.isArray(input) ? input : [input]) p.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'));
  return out;
}

function parseError(input: string | Buffer, version: StompVersion | null = '1.2', limits = LIMITS): string {
  try {
    parse(input, version, limits);
  } catch (e) {
    assert.ok(e instanceof StompParseError, `expected StompParseError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a parse error');
}

describe('STOMP codec: parser', () => {
  it('parses a frame with LF line ends and a NUL-terminated body', () => {
    const [f] = parse('SEND\ndestination:/queue/a\n\nhello\0');
    assert.equal(f.command, 'SEND');
    assert.equal(f.headers.destination, '/queue/a');
    assert.equal(f.body.toString(), 'hello');
  });

  it('accepts CR LF line ends', () => {
    const [f] = parse('SEND\r\ndestination:/queue/a\r\nx:1\r\n\r\nbody\0');
    assert.equal(f.headers.destination, '/queue/a');
    assert.equal(f.headers.x, '1');
    assert.equal(f.body.toString(), 'body');
  });

  it('reads a content-length body containing NUL bytes and blank lines', () => {
    const body = Buffer.from([1, 0, 2, 0x0a, 0x0a, 0, 255]);
    const [f] = parse(Buffer.concat([Buffer.from(`SEND\ndestination:/queue/a\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]));
    assert.deepEqual(f.body, body);
  });

  it('fails when the content-length body is not followed by NUL', () => {
    assert.match(parseError('SEND\ncontent-length:2\n\nabc\0'), /not followed by NUL/);
  });

  it('keeps the first of repeated headers', () => {
    const [f] = parse('MESSAGE\nfoo:World\nfoo:Hello\n\n\0');
    assert.equal(f.headers.foo, 'World');
  });

  it('treats EOLs between frames as heart-beats', () => {
    const out: StompFrame[] = [];
    const p = new StompParser(LIMITS, (f) => out.push(f));
    p.version = '1.2';
    p.push(Buffer.from('\n\r\n\nSEND\n\n\0\n\n\r\nSEND\n\n\0\n'));
    assert.equal(out.length, 2);
    assert.equal(p.heartbeats, 3 + 3 + 1);
  });

  it('parses input split at every byte, including a content-length body', () => {
    const body = Buffer.from('a\0b\nc');
    const wire = Buffer.concat([
      Buffer.from('SEND\r\ndestination:/topic/x\r\ncontent-length:5\r\nh:v\\c\r\n\r\n'), body, Buffer.from([0]),
      Buffer.from('\nSEND\ndestination:/topic/y\n\ntext\0'),
    ]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) chunks.push(wire.subarray(i, i + 1));
    const frames = parse(chunks);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0].body, body);
    assert.equal(frames[0].headers.h, 'v:');
    assert.equal(frames[1].body.toString(), 'text');
  });

  it('decodes 1.2 escapes \\r \\n \\c \\\\ in names and values', () => {
    const [f] = parse('SEND\na\\cb:x\\ny\\rz\\\\w\\c\n\n\0', '1.2');
    assert.equal(f.headers['a:b'], 'x\ny\rz\\w:');
  });

  it('1.1: \\n \\c \\\\ decode and \\r is an undefined escape', () => {
    const [f] = parse('SEND\nk:a\\nb\\cc\\\\\n\n\0', '1.1');
    assert.equal(f.headers.k, 'a\nb:c\\');
    assert.match(parseError('SEND\nk:a\\rb\n\n\0', '1.1'), /undefined escape/);
  });

  it('an undefined escape such as \\t is a fatal error', () => {
    assert.match(parseError('SEND\nk:a\\tb\n\n\0', '1.2'), /undefined escape/);
  });

  it('1.0 does not unescape and trims values', () => {
    const [f] = parse('SEND\nk: a\\nb \n\n\0', '1.0');
    assert.equal(f.headers.k, 'a\\nb');
  });

  it('CONNECT headers are never unescaped (a passcode may contain backslashes)', () => {
    const [f] = parse('CONNECT\nlogin:u\npasscode:p\\w\\c\n\n\0', null);
    assert.equal(f.headers.passcode, 'p\\w\\c');
    const [g] = parse('STOMP\npasscode:a\\nb\n\n\0', '1.2');
    assert.equal(g.headers.passcode, 'a\\nb');
  });

  it('splits a header at the first colon (values may contain colons in 1.0)', () => {
    const [f] = parse('SEND\nurl:http://x:1/\n\n\0', '1.0');
    assert.equal(f.headers.url, 'http://x:1/');
  });

  it('rejects a header line without a colon, and an empty header name', () => {
    assert.match(parseError('SEND\nnocolon\n\n\0'), /without a colon/);
    assert.match(parseError('SEND\n:v\n\n\0'), /empty name/);
  });

  it('rejects a bad content-length', () => {
    assert.match(parseError('SEND\ncontent-length:abc\n\n\0'), /invalid content-length/);
    assert.match(parseError('SEND\ncontent-length:-1\n\n\0'), /invalid content-length/);
    assert.match(parseError('SEND\ncontent-length:\n\n\0'), /invalid content-length/);
  });

  it('rejects a lone CR between frames', () => {
    assert.match(parseError('\rSEND\n\n\0'), /CR not followed by LF/);
  });

  it('bounds the frame size: content-length past the limit fails before the body arrives', () => {
    assert.match(parseError('SEND\ncontent-length:5000\n\n'), /frame larger than 4096/);
  });

  it('bounds the frame size without content-length while the body is still arriving', () => {
    assert.match(parseError('SEND\n\n' + 'x'.repeat(5000)), /frame larger than 4096/);
  });

  it('bounds a header line and the command line, before the end of the line arrives', () => {
    assert.match(parseError('SEND\nk:' + 'v'.repeat(300)), /header line longer than 256/);
    assert.match(parseError('X'.repeat(300)), /command line too long/);
  });

  it('bounds the number of headers', () => {
    let f = 'SEND\n';
    for (let i = 0; i < 17; i++) f += `h${i}:v\n`;
    assert.match(parseError(f + '\n\0'), /more than 16 headers/);
  });

  it('ignores input after an error (stopped)', () => {
    const out: StompFrame[] = [];
    const p = new StompParser(LIMITS, (f) => out.push(f));
    assert.throws(() => p.push(Buffer.from('SEND\nbad\n\n\0')));
    p.push(Buffer.from('SEND\n\n\0'));
    assert.equal(out.length, 0);
  });

  it('copies bodies out of the input buffer (a queued message does not pin the socket chunk)', () => {
    const chunk = Buffer.from('SEND\ncontent-length:3\n\nabc\0SEND\n\nxyz\0');
    const frames = parse(chunk);
    chunk.fill(0x21);
    assert.equal(frames[0].body.toString(), 'abc');
    assert.equal(frames[1].body.toString(), 'xyz');
  });
});

describe('STOMP codec: encoder and escaping', () => {
  it('escapes per version: 1.2 all four, 1.1 without CR, 1.0 none (line breaks become spaces)', () => {
    assert.equal(escapeHeader('a:b\nc\\d\re', '1.2'), 'a\\cb\\nc\\\\d\\re');
    assert.equal(escapeHeader('a:b\nc\\d\re', '1.1'), 'a\\cb\\nc\\\\de');
    assert.equal(escapeHeader('a:b\nc\\d\re', null), 'a:b c\\d e');
    assert.equal(escapeHeader('plain', '1.2'), 'plain');
  });

  it('round-trips every escapable character through encode and parse', () => {
    const value = 'x:y\nz\\w\r!';
    const wire = encodeFrame('MESSAGE', { 'k:\n': value }, Buffer.from('b'), '1.2');
    const [f] = parse(wire, '1.2');
    assert.equal(f.headers['k:\n'], value);
    assert.equal(unescapeHeader(escapeHeader(value, '1.2'), '1.2'), value);
  });

  it('CONNECTED frames are not escaped', () => {
    const wire = encodeFrame('CONNECTED', { server: 'a:b' }, undefined, '1.2').toString();
    assert.equal(wire, 'CONNECTED\nserver:a:b\n\n\0');
  });

  it('writes content-length for bodies', () => {
    const wire = encodeFrame('ERROR', { message: 'm' }, 'abc', '1.2').toString();
    assert.equal(wire, 'ERROR\nmessage:m\ncontent-length:3\n\nabc\0');
  });

  it('encodeReceipt gives the bytes encodeFrame gives a RECEIPT, for every version and escape', () => {
    for (const version of [null, '1.0', '1.1', '1.2'] as const) {
      for (const id of ['7', 'r-1', '', 'a:b', 'line\nbreak', 'cr\r', 'back\\slash', 'ünï']) {
        assert.deepEqual(encodeReceipt(id, version), encodeFrame('RECEIPT', { 'receipt-id': id }, undefined, version), `${version} ${JSON.stringify(id)}`);
      }
    }
  });
});
