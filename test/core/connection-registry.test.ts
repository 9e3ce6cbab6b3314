/** The connection registry: ids, identities, counters that outlive their connection, and the rate-limited lifecycle log. */
import assert from 'node:assert/strict';
import { ConnectionGate } from '../../core/connection-gate.js';
import { ConnectionRegistry, LIFECYCLE_LINES_PER_SECOND } from '../../core/connection-registry.js';
import { eventually, recordingLogger } from '../support/index.js';

const noop = () => undefined;

describe('ConnectionRegistry', () => {
  it('registers, identifies, counts and forgets a connection; totals keep what closed connections did', () => {
    const log = recordingLogger();
    const registry = new ConnectionRegistry();
    const mqtt = new ConnectionGate('mqtt', 0, log, registry).clients;
    const socket = { bytesRead: 10, bytesWritten: 20 };
    let kicked = '';
    const c = mqtt.open({ listener: 'mqtt', remote: '127.0.0.1:5000', transport: socket, close: (r) => { kicked = r; } });
    assert.match(c.id, /^mqtt-\d+$/);
    assert.equal(registry.get(c.id), c);
    assert.equal(c.view().clientId, null);
    c.identify('dev1', 'alice');
    c.messagesIn += 3;
    c.messagesOut += 2;
    assert.deepEqual(
      { ...c.view(), connectedSince: undefined },
      { id: c.id, protocol: 'mqtt', listener: 'mqtt', clientId: 'dev1', user: 'alice', remote: '127.0.0.1:5000', connectedSince: undefined, messagesIn: 3, messagesOut: 2, bytesIn: 10, bytesOut: 20 },
    );
    c.kick('closed by an administrator');
    assert.equal(kicked, 'closed by an administrator');
    c.closed(kicked);
    c.closed('again'); // idempotent
    assert.equal(registry.get(c.id), undefined);
    assert.deepEqual(registry.totals(), [{ protocol: 'mqtt', open: 0, total: 1, messagesIn: 3, messagesOut: 2, bytesIn: 10, bytesOut: 20, protocolErrors: 0, refusedOverLimit: 0, refusedOverRate: 0 }]);
    const lines = log.records.filter((r) => r.level === 'info');
    assert.deepEqual(lines.map((r) => r.msg), ['client connected', 'client disconnected']);
    assert.equal((lines[1].obj as { reason: string }).reason, 'closed by an administrator');
    assert.equal((lines[1].obj as { clientId: string }).clientId, 'dev1');
  });

  it('a connection that never logged in is closed without an info line', () => {
    const log = recordingLogger();
    const clients = new ConnectionGate('stomp', 0, log).clients;
    clients.open({ listener: 'stomp', remote: '127.0.0.1:1', close: noop }).closed('bad frame');
    assert.equal(log.records.length, 0);
    assert.equal(clients.totals().total, 1);
  });

  it('a flood is logged as at most N lines a second, then one summary line', async () => {
    const log = recordingLogger();
    const clients = new ConnectionGate('amqp', 0, log).clients;
    const n = LIFECYCLE_LINES_PER_SECOND * 3;
    for (let i = 0; i < n; i++) {
      const c = clients.open({ listener: 'amqp', remote: `127.0.0.1:${i}`, close: noop });
      c.identify(`c${i}`, null);
      c.closed('client disconnected');
    }
    const detailed = log.records.filter((r) => r.msg === 'client connected' || r.msg === 'client disconnected');
    assert.ok(detailed.length <= LIFECYCLE_LINES_PER_SECOND * 2, `${detailed.length} lines`); // at most two windows if the second turned
    const summary = () => log.records.filter((r) => /more connections opened/.test(r.msg ?? ''));
    const s = await eventually(() => (summary().length > 0 ? summary() : null), { what: 'a summary line' });
    const summed = s.reduce((k, r) => k + (r.obj as { opened: number; closed: number }).opened + (r.obj as { closed: number }).closed, 0);
    assert.equal(detailed.length + summed, n * 2);
  });
});
