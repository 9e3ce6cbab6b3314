/**
 * Qpid Proton (Debian python3-qpid-proton, run with /usr/bin/python3) against the adapter:
 * send/receive with properties, a durable subscription across connections, and request/reply
 * over a dynamic queue. Skipped with a message when the package is missing (a failure under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import { DEBIAN_PYTHON, requireDebianClient } from '../support/debian.js';
import { close, connect, openReceiver, openSender, receive, send, startAmqp, type Harness } from './helpers.js';
import { eventually } from '../support/index.js';

const SCRIPT = fileURLToPath(new URL('../../../test/amqp/proton_client.py', import.meta.url));

function proton(...args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(DEBIAN_PYTHON, [SCRIPT, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
    });
  });
}

describe('amqp with Qpid Proton (python3-qpid-proton)', function () {
  this.timeout(60000);
  before(requireDebianClient('python3-qpid-proton', 'python3:proton'));
  let h: Harness;
  let url: string;
  beforeEach(async () => {
    h = await startAmqp();
    url = `amqp://127.0.0.1:${h.port}`;
  });
  afterEach(async () => { await h.stop(); });

  it('Proton sends to a queue and Proton receives, fields intact', async () => {
    assert.deepEqual(await proton('send', url, '/queue/py', '3'), { sent: 3 });
    assert.equal(h.broker.getQueue('py')?.messageCount, 3);
    const got = await proton('receive', url, '/queue/py', '3') as Array<Record<string, unknown>>;
    assert.deepEqual(got.map((m) => m.body), ['proton-0', 'proton-1', 'proton-2']);
    assert.deepEqual(got[1].properties, { i: 1, lang: 'python' });
    assert.equal(got[1].subject, 'subj');
    assert.equal(got[1].correlation_id, 'corr-1');
    assert.equal(got[1].content_type, 'text/plain');
    assert.equal(got[1].durable, true);
    assert.equal(got[1].priority, 5);
    await eventually(() => h.broker.getQueue('py')!.unackedMessageCount === 0);
    assert.equal(h.broker.getQueue('py')!.messageCount, 0);
  });

  it('rhea to Proton and Proton to rhea', async () => {
    const c = await connect(h.port);
    const s = await openSender(c, '/queue/py2');
    await send(s, { body: rhea.message.data_section(Buffer.from([0, 255])), application_properties: { k: 'v' } });
    const [m] = await proton('receive', url, '/queue/py2', '1') as Array<{ body: { binary: string }; properties: unknown }>;
    assert.equal(m.body.binary, '00ff');
    assert.deepEqual(m.properties, { k: 'v' });
    await proton('send', url, '/queue/py3', '1');
    const r = await openReceiver(c, '/queue/py3');
    const [back] = await receive(r, 1);
    assert.equal(back.message.body, 'proton-0');
    assert.equal(back.message.application_properties?.lang, 'python');
    await close(c);
  });

  it('a Proton durable subscription keeps messages between connections and is removed on close', async () => {
    await proton('subscribe', url, 'py-client', 'py-sub', '/topic/py.events.#');
    const q = h.broker.getQueue('amqp.sub.py-client:py-sub');
    assert.ok(q?.options.durable, 'durable subscription queue');
    await eventually(() => q!.consumers.length === 0);
    const c = await connect(h.port);
    const s = await openSender(c, { target: {} });
    await send(s, { to: '/topic/py.events.a', body: 'e1', durable: true });
    await send(s, { to: '/topic/py.events.b', body: 'e2', durable: true });
    await close(c);
    const got = await proton('resume', url, 'py-client', 'py-sub', '/topic/py.events.#', '2') as Array<{ body: string }>;
    assert.deepEqual(got.map((m) => m.body), ['e1', 'e2']);
    await eventually(() => h.broker.getQueue('amqp.sub.py-client:py-sub') === undefined);
  });

  it('Proton transactions: sends and acceptances commit or roll back as one', async () => {
    assert.deepEqual(await proton('txsend', url, '/queue/pytx', '3', 'abort'), { result: 'aborted', received: [] });
    assert.equal(h.broker.getQueue('pytx')?.messageCount ?? 0, 0);
    assert.deepEqual(await proton('txsend', url, '/queue/pytx', '3', 'commit'), { result: 'committed', received: [] });
    const q = h.broker.getQueue('pytx')!;
    assert.equal(q.messageCount, 3);
    const aborted = await proton('txreceive', url, '/queue/pytx', '2', 'abort') as { result: string; received: string[] };
    assert.deepEqual(aborted, { result: 'aborted', received: ['tx-0', 'tx-1'] });
    await eventually(() => q.messageCount === 3 && q.unackedMessageCount === 0);
    const committed = await proton('txreceive', url, '/queue/pytx', '3', 'commit') as { result: string; received: string[] };
    assert.equal(committed.result, 'committed');
    assert.deepEqual([...committed.received].sort(), ['tx-0', 'tx-1', 'tx-2']);
    await eventually(() => q.messageCount === 0 && q.unackedMessageCount === 0);
  });

  it('Proton request/reply over a dynamic reply queue', async () => {
    const c = await connect(h.port);
    const svc = await openReceiver(c, '/queue/py-svc');
    const relay = await openSender(c, { target: {} });
    svc.on('message', (ctx) => {
      ctx.delivery!.accept();
      void send(relay, { to: ctx.message!.reply_to, correlation_id: ctx.message!.correlation_id, body: `pong:${String(ctx.message!.body)}` });
    });
    svc.add_credit(1);
    const result = await proton('request', url, '/queue/py-svc') as { reply_to: string; reply: { body: string }; matches: boolean };
    assert.match(result.reply_to, /^\/queue\/tmp\.amqp\./);
    assert.equal(result.reply.body, 'pong:ping');
    assert.equal(result.matches, true);
    await close(c);
  });
});
