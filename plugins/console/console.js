// Junction web console: reads /api/* every few seconds and renders plain tables. Every name is
// shown with textContent (queue names come from clients and may hold anything), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();
let timer = null;
let queueFilter = '';

/** Calls the admin API; rejects with the server's { error } message. */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

const enc = encodeURIComponent;

/** A table cell: text, or a number right-aligned. */
function cell(value, cls) {
  const td = document.createElement('td');
  if (typeof value === 'number') {
    td.textContent = fmt.format(value);
    td.className = 'num';
  } else if (value instanceof Node) {
    td.append(value);
  } else {
    td.textContent = value === undefined || value === null ? '' : String(value);
  }
  if (cls) td.classList.add(cls);
  return td;
}

function row(...cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function button(label, onClick, danger) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (danger) b.className = 'danger';
  b.addEventListener('click', onClick);
  return b;
}

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : `${m}m ${seconds % 60}s`;
}

function card(label, value) {
  const div = document.createElement('div');
  div.className = 'card';
  const v = document.createElement('div');
  v.className = 'v';
  v.textContent = typeof value === 'number' ? fmt.format(value) : value;
  const k = document.createElement('div');
  k.className = 'k';
  k.textContent = label;
  div.append(v, k);
  return div;
}

function renderOverview(o) {
  $('version').textContent = `v${o.version}`;
  $('uptime').textContent = `up ${duration(o.uptimeSeconds)}`;
  const r = o.rates;
  const rate = (k) => (r ? `${fmt.format(r[k])}/s` : '–');
  $('counts').replaceChildren(
    card('queues', o.counts.queues), card('streams', o.counts.streams), card('bindings', o.counts.bindings),
    card('consumers', o.counts.consumers), card('groups', o.counts.groups),
    card('messages ready', o.messages.ready), card('unacked', o.messages.unacked),
    card('stream records', o.messages.streamRecords), card('stream bytes', bytes(o.messages.streamBytes)),
    card('unroutable', o.unroutable), card('published', rate('published')), card('delivered', rate('delivered')),
    card('acked', rate('acked')), card('stream appends', rate('streamRecords')), card('store pending', bytes(o.store.pendingBytes)),
  );
  fill('listeners', o.listeners.map((l) => row(cell(l.name), cell(l.protocol), cell(l.host), cell(String(l.port) + (l.path ?? '')), cell(l.tls ? 'yes' : 'no'))));
}

function renderQueues(data) {
  $('queue-total').textContent = `(${fmt.format(data.total)}${data.total > data.queues.length ? `, first ${data.queues.length} shown` : ''})`;
  fill('queue-table', data.queues.map((q) => {
    const actions = document.createElement('span');
    actions.append(
      button('peek', () => peek(q.name)),
      ' ',
      button('purge', () => act(`Purge every ready message of ${q.name}?`, 'POST', `/api/queues/${enc(q.name)}/purge`), true),
      ' ',
      button('delete', () => act(`Delete queue ${q.name} and its messages?`, 'DELETE', `/api/queues/${enc(q.name)}`), true),
    );
    const s = q.stats;
    return row(
      cell(q.name, 'name'), cell(q.durable ? 'yes' : 'no'), cell(q.messagesReady), cell(q.messagesUnacked), cell(q.consumers),
      cell(s.published), cell(s.delivered), cell(s.acked), cell(s.redelivered), cell(s.deadLettered), cell(s.expired), cell(s.dropped),
      cell(q.bindings.join(', '), 'name'), cell(actions),
    );
  }));
}

/** Client connections of every protocol, with a button that closes one (DELETE /api/connections/ID). */
function renderConnections(list) {
  const shown = list.slice(0, 200);
  $('connection-total').textContent = `(${fmt.format(list.length)}${list.length > shown.length ? `, first ${shown.length} shown` : ''})`;
  fill('connection-table', shown.map((c) => row(
    cell(c.id, 'name'), cell(c.listener), cell(c.clientId ?? '', 'name'), cell(c.user ?? '', 'name'), cell(c.remote),
    cell(duration(Math.max(0, Math.floor((Date.now() - Date.parse(c.connectedSince)) / 1000)))),
    cell(c.messagesIn), cell(c.messagesOut), cell(bytes(c.bytesIn)), cell(bytes(c.bytesOut)),
    cell(button('close', () => act(`Close connection ${c.id}${c.clientId ? ` (${c.clientId})` : ''}?`, 'DELETE', `/api/connections/${enc(c.id)}`), true)),
  )));
}

function renderStreams(data) {
  const rows = [];
  for (const s of data.streams) {
    const c = s.config;
    const retention = `${c.retentionMs < 0 ? 'forever' : duration(Math.floor(c.retentionMs / 1000))}${c.retentionBytes < 0 ? '' : `, ${bytes(c.retentionBytes)}`}`;
    for (const p of s.partitions) {
      const first = p.partition === 0;
      rows.push(row(
        cell(first ? s.name : '', 'name'), cell(p.partition), cell(p.logStartOffset), cell(p.highWatermark), cell(p.messages),
        cell(bytes(p.sizeBytes)), cell(first ? retention : ''), cell(first ? c.patterns.join(', ') : '', 'name'),
      ));
    }
  }
  fill('stream-table', rows);
}

/** The cluster's live nodes (/api/cluster answers only on a cluster node; the section stays hidden otherwise). */
function renderCluster(data) {
  $('cluster').hidden = !data;
  if (!data) return;
  $('cluster-self').textContent = `(this is node ${data.nodeId})`;
  const at = (e) => (e ? `${e.host || '*'}:${e.port}` : '');
  fill('cluster-table', data.nodes.map((n) => row(
    cell(`${n.id}${n.self ? ' (this node)' : ''}`), cell(at(n.endpoints.kafka)), cell(at(n.endpoints.mqtt)), cell(at(n.endpoints.http)),
    cell(duration(Math.floor((Date.now() - n.startedAt) / 1000))), cell(n.leaderOf), cell(n.queuesOwned),
  )));
}

function renderGroups(data) {
  const rows = [];
  for (const g of data.groups) {
    for (const o of g.offsets) {
      rows.push(row(cell(g.group, 'name'), cell(o.stream, 'name'), cell(o.partition), cell(o.committed), cell(o.highWatermark ?? 'gone'), cell(o.lag ?? '')));
    }
  }
  fill('group-table', rows);
}

async function refresh() {
  try {
    const q = queueFilter ? `?name=${enc(queueFilter)}` : '';
    const [overview, queues, streams, groups, cluster, connections] = await Promise.all([
      api('GET', '/api/overview'), api('GET', `/api/queues${q}`), api('GET', '/api/streams'), api('GET', '/api/groups'),
      api('GET', '/api/cluster').catch(() => null), api('GET', '/api/connections'),
    ]);
    renderOverview(overview);
    renderCluster(cluster);
    renderQueues(queues);
    renderConnections(connections);
    renderStreams(streams);
    renderGroups(groups);
    status(`updated ${new Date().toLocaleTimeString()}`, 'muted');
  } catch (err) {
    status(`refresh failed: ${err.message}`, 'error');
  }
}

function status(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = cls;
}

async function act(question, method, path) {
  if (!confirm(question)) return;
  try {
    const r = await api(method, path);
    status(r && r.purged !== undefined ? `purged ${r.purged} messages` : 'done', 'ok');
  } catch (err) {
    status(err.message, 'error');
  }
  refresh();
}

async function peek(name) {
  try {
    const data = await api('GET', `/api/queues/${enc(name)}/messages?limit=50&maxPayloadBytes=4096`);
    $('peek-queue').textContent = `${name} (${fmt.format(data.messagesReady)} ready, first ${data.messages.length} shown)`;
    fill('peek-table', data.messages.map((m) => row(
      cell(m.seq), cell(m.topic, 'name'), cell(m.size), cell(m.contentType ?? ''),
      cell(m.payloadText !== undefined ? m.payloadText : `base64: ${m.payloadBase64}${m.payloadTruncated ? '…' : ''}`, 'payload'),
      cell(Object.keys(m.headers).length ? JSON.stringify(m.headers) : '', 'payload'),
    )));
    $('peek').hidden = false;
  } catch (err) {
    status(err.message, 'error');
  }
}

function schedule() {
  clearInterval(timer);
  const ms = Number($('interval').value);
  timer = ms > 0 ? setInterval(refresh, ms) : null;
}

async function declareQueue(ev) {
  ev.preventDefault();
  const f = ev.target;
  const name = f.elements.name.value.trim();
  const body = { durable: f.elements.durable.checked };
  if (f.elements.maxLength.value !== '') body.maxLength = Number(f.elements.maxLength.value);
  try {
    await api('PUT', `/api/queues/${enc(name)}`, body);
    const pattern = f.elements.pattern.value.trim();
    if (pattern) await api('POST', `/api/queues/${enc(name)}/bindings`, { pattern });
    status(`queue ${name} declared`, 'ok');
    f.reset();
  } catch (err) {
    status(err.message, 'error');
  }
  refresh();
}

async function publish(ev) {
  ev.preventDefault();
  const f = ev.target;
  const out = $('publish-result');
  const body = { [f.elements.kind.value]: f.elements.address.value.trim(), payload: f.elements.payload.value, durable: f.elements.durable.checked };
  if (f.elements.contentType.value.trim()) body.contentType = f.elements.contentType.value.trim();
  try {
    if (f.elements.headers.value.trim()) body.headers = JSON.parse(f.elements.headers.value);
    const r = await api('POST', '/api/publish', body);
    out.textContent = r.routed ? `published (${r.size} bytes)` : 'published, but no queue or stream is bound to that topic';
    out.className = r.routed ? 'ok' : 'error';
  } catch (err) {
    out.textContent = err.message;
    out.className = 'error';
  }
  refresh();
}

document.addEventListener('DOMContentLoaded', () => {
  $('interval').addEventListener('change', schedule);
  $('refresh').addEventListener('click', refresh);
  $('peek-close').addEventListener('click', () => { $('peek').hidden = true; });
  $('queue-filter').addEventListener('input', (ev) => { queueFilter = ev.target.value; refresh(); });
  $('declare-form').addEventListener('submit', declareQueue);
  $('publish-form').addEventListener('submit', publish);
  refresh();
  schedule();
});
