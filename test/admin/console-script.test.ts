/**
 * Runs the console's script (plugins/console/console.js) against a real broker with a minimal
 * stand-in for the DOM: the tables fill from the API, names stay text, the forms publish.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import mqtt from 'mqtt';
import { createMessage } from '../../core/message.js';
import { consoleAssetDir } from '../../plugins/console/index.js';
import { TEST_HOST, type RunningBroker } from '../support/index.js';
import { startAdminBroker } from './helpers.js';

class FakeNode {}

class FakeElement extends FakeNode {
  children: Array<FakeElement | string> = [];
  textContent = '';
  className = '';
  hidden = false;
  value = '';
  checked = false;
  elements: Record<string, FakeElement> = {};
  readonly listeners = new Map<string, (ev: unknown) => unknown>();
  readonly classList = { add: (c: string) => (this.className = `${this.className} ${c}`.trim()) };
  tBodies: FakeElement[] = [];
  constructor(readonly tag: string) {
    super();
  }
  append(...nodes: Array<FakeElement | string>) {
    this.children.push(...nodes);
  }
  replaceChildren(...nodes: Array<FakeElement | string>) {
    this.children = nodes;
  }
  addEventListener(type: string, fn: (ev: unknown) => unknown) {
    this.listeners.set(type, fn);
  }
  /** Text of this element and its children, as textContent would read it. */
  text(): string {
    return this.textContent + this.children.map((c) => (typeof c === 'string' ? c : c.text())).join('');
  }
  /** Rows of a table body as arrays of cell texts. */
  rows(): string[][] {
    return (this.tBodies[0].children as FakeElement[]).map((tr) => (tr.children as FakeElement[]).map((td) => td.text()));
  }
}

function fakeDocument() {
  const byId = new Map<string, FakeElement>();
  const docListeners = new Map<string, () => void>();
  const getElementById = (id: string) => {
    let el = byId.get(id);
    if (!el) {
      el = new FakeElement(id.endsWith('table') || id === 'listeners' ? 'table' : 'div');
      el.tBodies = [new FakeElement('tbody')];
      byId.set(id, el);
    }
    return el;
  };
  return {
    getElementById,
    createElement: (tag: string) => new FakeElement(tag),
    addEventListener: (type: string, fn: () => void) => docListeners.set(type, fn),
    fire: (type: string) => docListeners.get(type)!(),
  };
}

/** Lets the script's fetches and renders run until `done` holds. */
async function settle(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(done(), 'the console finished its work');
}

describe('web console script', () => {
  let b: RunningBroker;
  let doc: ReturnType<typeof fakeDocument>;
  const $ = (id: string) => doc.getElementById(id);

  let device: mqtt.MqttClient;

  before(async () => {
    b = await startAdminBroker({ protocols: ['mqtt'] });
    device = await mqtt.connectAsync(`mqtt://${TEST_HOST}:${b.ports.mqtt}`, { clientId: 'console-device' });
    const weird = '<img src=x onerror=alert(1)>';
    await b.broker.declareQueue(weird);
    await b.broker.bindQueue(weird, 'alerts.#');
    await b.broker.publish(createMessage({ topic: 'alerts.fire', payload: Buffer.from('hot') }));
    await b.broker.createStream('events', { partitions: 2 });
    await b.broker.offsets.commit('readers', [{ stream: 'events', partition: 1, offset: 0 }]);

    doc = fakeDocument();
    $('interval').value = '0';
    const base = `http://${TEST_HOST}:${b.ports.http}`;
    const sandbox = {
      document: doc,
      Node: FakeNode,
      Intl,
      JSON,
      Promise,
      Number,
      Object,
      String,
      Math,
      Date,
      encodeURIComponent,
      fetch: (path: string, init: RequestInit) => fetch(base + path, init),
      confirm: () => true,
      setInterval: () => 0,
      clearInterval: () => undefined,
    };
    const dir = consoleAssetDir();
    assert.ok(dir);
    runInNewContext(readFileSync(join(dir, 'console.js'), 'utf8'), sandbox);
    doc.fire('DOMContentLoaded');
    await settle(() => $('status').textContent !== '');
  });
  after(async () => {
    await device.endAsync(true);
    await b.close();
  });

  it('renders overview, listeners, queues, streams and groups from the API', () => {
    assert.match($('status').textContent, /^updated/);
    assert.equal($('cluster').hidden, true, 'no cluster section on a single node');
    assert.match($('version').textContent, /^v\d/);
    const counts = $('counts').text();
    assert.match(counts, /1queues/);
    assert.match(counts, /1streams/);
    assert.deepEqual($('listeners').rows().map((r) => r[0]).sort(), ['http', 'mqtt', 'mqtt-ws']);
    const ws = $('listeners').rows().find((r) => r[0] === 'mqtt-ws')!;
    assert.equal(ws[3], `${b.ports.http}/mqtt`, 'a WebSocket endpoint: the HTTP port and its path');
    const queues = $('queue-table').rows();
    assert.equal(queues.length, 1);
    assert.equal(queues[0][0], '<img src=x onerror=alert(1)>', 'a name is text');
    assert.equal(queues[0][2], '1', 'ready');
    assert.equal(queues[0][12], 'alerts.#');
    assert.deepEqual($('stream-table').rows().map((r) => [r[0], r[1]]), [['events', '0'], ['', '1']]);
    assert.deepEqual($('group-table').rows(), [['readers', 'events', '1', '0', '0', '0']]);
  });

  it('lists client connections and closes one with its button', async () => {
    const [conn] = $('connection-table').rows();
    assert.deepEqual([conn[1], conn[2], conn[3]], ['mqtt', 'console-device', '']);
    assert.match(conn[0], /^mqtt-\d+$/);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.options.reconnectPeriod = 0;
    const tbody = $('connection-table').tBodies[0].children[0] as FakeElement;
    const closeButton = (tbody.children[10] as FakeElement).children[0] as FakeElement;
    await closeButton.listeners.get('click')!({});
    await closed;
    // The broker forgets the connection once its socket has closed: refresh until the row is gone.
    for (let i = 0; i < 50 && $('connection-table').rows().length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await $('refresh').listeners.get('click')!({});
    }
    assert.deepEqual($('connection-table').rows(), []);
    assert.match($('status').textContent, /^updated/);
  });

  it('publishes from the form', async () => {
    const form = $('publish-form');
    const field = (value: string, checked = false) => Object.assign(new FakeElement('input'), { value, checked });
    form.elements = {
      kind: field('topic'), address: field('alerts.smoke'), payload: field('grey'), contentType: field('text/plain'),
      durable: field('', true), headers: field('{"by":"console"}'),
    };
    await form.listeners.get('submit')!({ preventDefault: () => undefined, target: form });
    assert.equal($('publish-result').textContent, 'published (4 bytes)');
    const m = b.broker.getQueue('<img src=x onerror=alert(1)>')!.peekEntries(2)[1].message!;
    assert.equal(m.payload.toString(), 'grey');
    assert.deepEqual(m.headers, { by: 'console' });
    assert.equal(m.durable, true);
    assert.equal(m.contentType, 'text/plain');
  });
});
