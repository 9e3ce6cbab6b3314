/**
 * stomp.py 8 (Debian python3-stomp) over TCP, run with /usr/bin/python3. Skipped with a message
 * where the package is missing, except under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DEBIAN_PYTHON, requireDebianClient } from '../support/index.js';
import { startStomp, type StompBroker } from './helpers.js';

const PRELUDE = String.raw`
import json, sys, threading, time
import stomp

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
out = {}

class Collector(stomp.ConnectionListener):
    def __init__(self):
        self.messages = []
        self.receipts = set()
        self.errors = []
        self.disconnected = False
        self.cv = threading.Condition()
    def on_message(self, frame):
        with self.cv:
            self.messages.append(frame)
            self.cv.notify_all()
    def on_receipt(self, frame):
        with self.cv:
            self.receipts.add(frame.headers.get('receipt-id'))
            self.cv.notify_all()
    def on_error(self, frame):
        with self.cv:
            self.errors.append(frame.headers.get('message'))
            self.cv.notify_all()
    def on_disconnected(self):
        with self.cv:
            self.disconnected = True
            self.cv.notify_all()
    def wait(self, pred, timeout=5.0):
        with self.cv:
            if not self.cv.wait_for(pred, timeout):
                raise SystemExit('timed out in ' + SCENARIO)

def connect(version=12, **kw):
    cls = {10: stomp.Connection10, 11: stomp.Connection11, 12: stomp.Connection12}[version]
    c = cls([('127.0.0.1', PORT)], **kw)
    l = Collector()
    c.set_listener('c', l)
    if version == 10:
        c.connect(wait=True)
    else:
        c.connect(wait=True, headers={'host': '/'})
    return c, l

def receipt(c, l, name):
    l.wait(lambda: name in l.receipts)
`;

const SCENARIOS: Record<string, string> = {
  queue: String.raw`
c, l = connect()
c.subscribe('/queue/py.jobs', id='s1', ack='client-individual')
c.send('/queue/py.jobs', 'hello from python', headers={'persistent': 'true', 'x-app': 'py', 'correlation-id': 'c1'}, receipt='r1')
receipt(c, l, 'r1')
l.wait(lambda: len(l.messages) == 1)
m = l.messages[0]
out['body'] = m.body
out['headers'] = dict(m.headers)
c.ack(m.headers['ack'], receipt='r2')
receipt(c, l, 'r2')
c.disconnect(receipt='bye')
`,
  binary: String.raw`
c, l = connect(auto_decode=False)
c.subscribe('/queue/py.bin', id='s1')
c.send('/queue/py.bin', b'\x00\x01\x00\n\nend', receipt='r1')
receipt(c, l, 'r1')
l.wait(lambda: len(l.messages) == 1)
out['hex'] = l.messages[0].body.hex()
c.disconnect()
`,
  nack: String.raw`
a, la = connect()
b, lb = connect()
a.subscribe('/queue/py.nack', id='1', ack='client-individual', headers={'prefetch-count': '1'})
b.subscribe('/queue/py.nack', id='1', ack='client-individual', headers={'prefetch-count': '1'}, receipt='sb')
receipt(b, lb, 'sb')
a.send('/queue/py.nack', 'retry me', receipt='r')
receipt(a, la, 'r')
la.wait(lambda: len(la.messages) + len(lb.messages) == 1)
first, fl, other, ol = (a, la, b, lb) if la.messages else (b, lb, a, la)
first.nack(fl.messages[0].headers['ack'])
ol.wait(lambda: len(ol.messages) == 1)
out['redelivered'] = ol.messages[0].headers.get('redelivered')
out['body'] = ol.messages[0].body
other.ack(ol.messages[0].headers['ack'])
a.disconnect()
b.disconnect()
`,
  transaction: String.raw`
c, l = connect()
c.subscribe('/queue/py.tx', id='1', ack='client-individual', receipt='s')
receipt(c, l, 's')
tx = c.begin()
c.send('/queue/py.tx', 'in tx', transaction=tx)
time.sleep(0.2)
out['before_commit'] = len(l.messages)
c.commit(tx, receipt='cm')
receipt(c, l, 'cm')
l.wait(lambda: len(l.messages) == 1)
tx2 = c.begin()
c.ack(l.messages[0].headers['ack'], transaction=tx2)
c.abort(tx2, receipt='ab')
receipt(c, l, 'ab')
c.disconnect()
d, ld = connect()
d.subscribe('/queue/py.tx', id='1', ack='client-individual')
ld.wait(lambda: len(ld.messages) == 1)
out['redelivered_body'] = ld.messages[0].body
out['redelivered'] = ld.messages[0].headers.get('redelivered')
d.ack(ld.messages[0].headers['ack'], receipt='done')
receipt(d, ld, 'done')
d.disconnect()
`,
  versions: String.raw`
out['versions'] = []
for v in (10, 11, 12):
    c, l = connect(v)
    dest = '/queue/py.v%d' % v
    if v == 10:
        c.subscribe(dest, id='x%d' % v, ack='client')
    else:
        c.subscribe(dest, 'x%d' % v, ack='client')
    c.send(dest, 'v%d' % v)
    l.wait(lambda: len(l.messages) == 1)
    m = l.messages[0]
    if v == 12:
        c.ack(m.headers['ack'])
    elif v == 11:
        c.ack(m.headers['message-id'], m.headers['subscription'])
    else:
        c.ack(m.headers['message-id'])
    out['versions'].append([c.get_ssl() is None and v, m.body])
    c.disconnect()
`,
  topics: String.raw`
c, l = connect()
c.subscribe('/topic/py.*.temp', id='1')
c.subscribe('/topic/py.#', id='2', receipt='s')
receipt(c, l, 's')
c.send('/topic/py.kitchen.temp', '20', headers={'escaped': 'a:b\nc'})
l.wait(lambda: len(l.messages) == 2)
out['subs'] = sorted(m.headers['subscription'] for m in l.messages)
out['escaped'] = l.messages[0].headers['escaped']
c.disconnect()
`,
  heartbeats: String.raw`
c, l = connect(heartbeats=(200, 200))
time.sleep(1.5)
out['connected'] = c.is_connected()
c.send('/queue/py.hb', 'still here', receipt='r')
receipt(c, l, 'r')
c.disconnect()
`,
  error: String.raw`
c, l = connect()
c.send('/nowhere', 'x')
l.wait(lambda: len(l.errors) == 1)
out['error'] = l.errors[0]
l.wait(lambda: l.disconnected)
out['disconnected'] = True
`,
};

function runPython(port: number, scenario: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const code = PRELUDE + SCENARIOS[scenario] + '\nprint(json.dumps(out))\nsys.stdout.flush()\n';
    const p = spawn(DEBIAN_PYTHON, ['-c', code, String(port), scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`stomp.py ${scenario} exited ${code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
      } catch {
        reject(new Error(`stomp.py ${scenario}: no result (${stdout} ${stderr})`));
      }
    });
  });
}

describe('STOMP with stomp.py 8 (python3-stomp) over TCP', function () {
  this.timeout(30000);
  let s: StompBroker;
  before(requireDebianClient('python3-stomp', 'python3:stomp'));
  before(async () => { s = await startStomp(); });
  after(async () => { await s?.close(); });

  it('persistent SEND with receipt, client-individual SUBSCRIBE and ACK', async () => {
    const r = await runPython(s.port, 'queue') as { body: string; headers: Record<string, string> };
    assert.equal(r.body, 'hello from python');
    assert.equal(r.headers['x-app'], 'py');
    assert.equal(r.headers['correlation-id'], 'c1');
    assert.equal(r.headers.persistent, 'true');
    assert.equal(r.headers.destination, '/queue/py.jobs');
    assert.equal(s.b.broker.getQueue('py.jobs')!.messageCount + s.b.broker.getQueue('py.jobs')!.unackedMessageCount, 0);
  });

  it('binary body with NUL bytes (auto content-length)', async () => {
    assert.equal((await runPython(s.port, 'binary')).hex, '0001000a0a656e64');
  });

  it('NACK redelivers to the other consumer', async () => {
    const r = await runPython(s.port, 'nack');
    assert.equal(r.body, 'retry me');
    assert.equal(r.redelivered, 'true');
  });

  it('transactions: SEND on COMMIT; an aborted ACK leaves the message for redelivery', async () => {
    const r = await runPython(s.port, 'transaction');
    assert.equal(r.before_commit, 0);
    assert.equal(r.redelivered_body, 'in tx');
    assert.equal(r.redelivered, 'true');
  });

  it('STOMP 1.0, 1.1 and 1.2 connections with their ACK forms', async () => {
    const r = await runPython(s.port, 'versions') as { versions: Array<[number, string]> };
    assert.deepEqual(r.versions.map((v) => v[1]), ['v10', 'v11', 'v12']);
  });

  it('topic wildcards and escaped header values', async () => {
    const r = await runPython(s.port, 'topics');
    assert.deepEqual(r.subs, ['1', '2']);
    assert.equal(r.escaped, 'a:b\nc');
  });

  it('heart-beats negotiated and kept', async () => {
    assert.equal((await runPython(s.port, 'heartbeats')).connected, true);
  });

  it('an ERROR frame with a message, then the broker closes', async () => {
    const r = await runPython(s.port, 'error');
    assert.match(String(r.error), /unsupported destination/);
    assert.equal(r.disconnected, true);
  });
});
