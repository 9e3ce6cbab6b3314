import assert from 'node:assert/strict';
import type { RunningBroker } from '../support/index.js';
import { call, startAdminBroker } from './helpers.js';

describe('web console', () => {
  let b: RunningBroker;
  before(async () => (b = await startAdminBroker()));
  after(() => b.close());

  it('serves the page at / with a strict content security policy', async () => {
    const r = await call(b, 'GET', '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(r.text, /<title>Junction console<\/title>/);
    for (const id of ['overview', 'queue-table', 'stream-table', 'group-table', 'publish-form']) assert.match(r.text, new RegExp(`id="${id}"`), id);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
  });

  it('loads only its own assets, which are served', async () => {
    const page = (await call(b, 'GET', '/')).text;
    const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(refs.sort(), ['/console/app.js', '/console/style.css']);
    assert.ok(!/https?:\/\//.test(page), 'no external URLs');
    const js = await call(b, 'GET', '/console/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type']!, /^text\/javascript/);
    for (const path of ['/api/overview', '/api/queues', '/api/streams', '/api/groups', '/api/publish']) assert.ok(js.text.includes(path), path);
    assert.ok(!/innerHTML/.test(js.text), 'names are rendered as text, never as HTML');
    assert.ok(!/https?:\/\//.test(js.text), 'no external URLs');
    const css = await call(b, 'GET', '/console/style.css');
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type']!, /^text\/css/);
  });

  it('leaves other paths alone', async () => {
    assert.equal((await call(b, 'GET', '/console/other.js')).status, 404);
    assert.equal((await call(b, 'GET', '/healthz')).text, 'ok\n');
  });
});
