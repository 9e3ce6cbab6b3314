import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import type { HttpListener } from '../../plugins/http/index.js';
import { startBroker, TEST_HOST, type RunningBroker } from '../support/index.js';

/** A stand-in adapter that mounts WebSocket endpoints and routes, as real adapters do. */
class EchoAdapter implements ProtocolAdapter {
  readonly name = 'echo';
  ctx!: AdapterContext;
  async init(ctx: AdapterContext) {
    this.ctx = ctx;
    const echo = (ws: WebSocket) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ctx.http!.websocket('/echo', ['v12.stomp', 'v11.stomp', 'v10.stomp'], echo);
    (ctx.http as HttpListener).websocket('/strict', ['xmpp'], echo, { requireProtocol: true });
    ctx.http!.route('GET', '/api/hello', (_req, res) => res.end('hello'));
    ctx.http!.route('GET', '/api/things/*', (req, res) => res.end(`thing ${req.url}`));
    ctx.http!.route('GET', '/api/boom', () => {
      throw new Error('boom');
    });
    ctx.http!.route('GET', '/api/async-boom', (async () => {
      throw new Error('async boom');
    }) as () => void);
  }
  async start(): Promise<ListenerInfo[]> {
    return [];
  }
  async stop() {}
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: TEST_HOST, port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a WebSocket; resolves with it, or with the HTTP status of a refused upgrade. */
function openWs(port: number, path: string, protocols?: string[]): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${TEST_HOST}:${port}${path}`, protocols);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      res.resume();
      ws.terminate();
    });
    ws.once('error', (e) => {
      if (!(e instanceof Error && /Unexpected server response/.test(e.message))) reject(e);
    });
  });
}

describe('platform/http', () => {
  let b: RunningBroker;
  let port: number;
  before(async () => {
    b = await startBroker({ protocols: [], extraAdapters: [new EchoAdapter()] });
    port = b.ports.http!;
  });
  after(() => b.close());

  it('serves /healthz and /readyz once started', async () => {
    assert.deepEqual(await get(port, '/healthz'), { status: 200, body: 'ok\n' });
    assert.deepEqual(await get(port, '/readyz'), { status: 200, body: 'ready\n' });
    assert.deepEqual(await get(port, '/readyz', {}, 'HEAD'), { status: 200, body: '' });
    assert.equal((await get(port, '/healthz?probe=1')).status, 200);
  });

  it('answers 404 for unknown paths and runs mounted routes', async () => {
    assert.equal((await get(port, '/nowhere')).status, 404);
    assert.equal((await get(port, '/healthz', {}, 'POST')).status, 404);
    assert.deepEqual(await get(port, '/api/hello'), { status: 200, body: 'hello' });
    assert.deepEqual(await get(port, '/api/things/7'), { status: 200, body: 'thing /api/things/7' });
  });

  it('turns a failing handler into 500 and keeps serving', async () => {
    assert.equal((await get(port, '/api/boom')).status, 500);
    assert.equal((await get(port, '/api/async-boom')).status, 500);
    assert.equal((await get(port, '/healthz')).status, 200);
  });

  it('refuses an oversized request head with 431', async () => {
    const r = await get(port, '/healthz', { 'x-big': 'a'.repeat(b.config.http.maxHeaderBytes + 1) });
    assert.equal(r.status, 431);
  });

  it('routes WebSocket upgrades by path and picks the subprotocol by the endpoint order', async () => {
    const ws = await openWs(port, '/echo', ['v10.stomp', 'v11.stomp', 'v12.stomp']);
    assert.ok(ws instanceof WebSocket);
    assert.equal(ws.protocol, 'v12.stomp');
    ws.send('CONNECT');
    const [data] = await once(ws, 'message');
    assert.equal(data.toString(), 'CONNECT');
    ws.close();
    await once(ws, 'close');
  });

  it('refuses unknown paths with 404 and unknown subprotocols with 400', async () => {
    assert.equal(await openWs(port, '/nope', ['mqtt']), 404);
    assert.equal(await openWs(port, '/echo', ['mqtt']), 400);
  });

  it('accepts a client offering no subprotocol unless the endpoint requires one', async () => {
    const ws = await openWs(port, '/echo');
    assert.ok(ws instanceof WebSocket);
    assert.equal(ws.protocol, '');
    ws.close();
    assert.equal(await openWs(port, '/strict'), 400);
    const x = await openWs(port, '/strict', ['xmpp']);
    assert.ok(x instanceof WebSocket);
    assert.equal(x.protocol, 'xmpp');
    x.close();
  });

  it('survives garbage on the socket', async () => {
    const s = connect(port, TEST_HOST);
    await once(s, 'connect');
    s.write('\x00\x01 NOT HTTP\r\n\r\n');
    const [chunk] = await once(s, 'data');
    assert.match(chunk.toString(), /^HTTP\/1\.1 400/);
    s.destroy();
    assert.equal((await get(port, '/healthz')).status, 200);
  });
});

describe('platform/http: shutdown', () => {
  it('closes WebSocket clients with 1001 when the broker stops', async () => {
    const b = await startBroker({ protocols: [], extraAdapters: [new EchoAdapter()] });
    const ws = await openWs(b.ports.http!, '/echo', ['v12.stomp']);
    assert.ok(ws instanceof WebSocket);
    const closed = once(ws, 'close');
    await b.close();
    const [code] = await closed;
    assert.equal(code, 1001);
  });
});
