/**
 * XMPP benchmark (`npm run bench -- xmpp`, or `node dist/bench/xmpp-bench.js`): the same raw
 * client against Junction's XMPP adapter and, when Debian's `prosody` is installed, against
 * Prosody started with a temporary configuration, in the same run:
 * - chat throughput between two logged-in clients (messages/s received),
 * - pubsub event fan-out 1 -> 50 subscribers (notifications/s received),
 * - memory per idle session with 5,000 sessions (server RSS delta / sessions).
 * Each server runs in its own process so its RSS is its own. Prints figures and ratios.
 * BENCH_SECONDS bounds each timed phase (default 5); XMPP_BENCH_SESSIONS the idle sessions.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withListeners } from '../plugins/listeners/index.js';

const DOMAIN = 'localhost';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SESSIONS = Number(process.env.XMPP_BENCH_SESSIONS ?? 5000);
const SUBSCRIBERS = 50;
const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`;

// ---- a minimal raw client -----------------------------------------------------------------------

class BenchClient {
  private buf = '';
  private waiters: Array<() => void> = [];
  /** Occurrences of `countMarker` seen so far (counted across chunk boundaries). */
  count = 0;
  countMarker = '</message>';
  private tail = '';
  private keep = true;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (d: string) => {
      const text = this.tail + d;
      let i = text.indexOf(this.countMarker);
      while (i >= 0) {
        this.count++;
        i = text.indexOf(this.countMarker, i + this.countMarker.length);
      }
      this.tail = text.slice(-(this.countMarker.length - 1));
      if (this.keep) this.buf += d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
    socket.on('close', () => { for (const w of this.waiters.splice(0)) w(); });
  }

  static open(port: number): Promise<BenchClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new BenchClient(s)));
      s.once('error', reject);
    });
  }

  send(s: string): boolean {
    return this.socket.write(s);
  }

  async waitFor(re: RegExp, ms = 15000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.buf.match(re);
      if (m) {
        this.buf = this.buf.slice((m.index ?? 0) + m[0].length);
        return m;
      }
      if (this.socket.destroyed) throw new Error(`closed waiting for ${re}: ${this.buf.slice(-300)}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}: ${this.buf.slice(-300)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  async waitCount(n: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.count < n) {
      if (Date.now() > deadline || this.socket.destroyed) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
    return true;
  }

  /** Stop keeping received text (counting only): for high-volume receivers. */
  countOnly(): void {
    this.keep = false;
    this.buf = '';
  }

  static async register(port: number, user: string, password: string): Promise<void> {
    const c = await BenchClient.open(port);
    c.send(HEADER);
    await c.waitFor(/<\/stream:features>/);
    c.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`);
    await c.waitFor(/<iq[^>]*(type=['"](result|error)['"])[^>]*>|<iq[^>]*id=['"]reg['"][^>]*\/>/);
    c.socket.destroy();
  }

  static async login(port: number, user: string, password: string, resource: string, presence = true): Promise<BenchClient> {
    const c = await BenchClient.open(port);
    c.send(HEADER);
    await c.waitFor(/<\/stream:features>/);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    await c.waitFor(/<success[^>]*(\/>|>[^<]*<\/success>)/);
    c.send(HEADER);
    await c.waitFor(/<\/stream:features>/);
    c.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await c.waitFor(/<\/jid>/);
    c.send(`<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
    await c.waitFor(/id=['"]sess['"]/);
    if (presence) c.send('<presence/>');
    return c;
  }

  close(): void {
    this.socket.end(`</stream:stream>`);
    setTimeout(() => this.socket.destroy(), 500).unref();
  }
}

// ---- servers --------------------------------------------------------------------------------------

interface Target {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function waitLine(child: ChildProcess, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out.slice(-500)}`)), ms);
    const on = (d: Buffer) => {
      out += d.toString();
      const m = out.match(re);
      if (m) {
        clearTimeout(t);
        child.stdout?.off('data', on);
        resolve(m);
      }
    };
    child.stdout?.on('data', on);
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`server exited (${code}): ${out.slice(-500)}`)); });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

async function startJunction(): Promise<Target> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--expose-gc', self, '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const m = await waitLine(child, /XMPP_PORT (\d+)/, 20000);
  junctionChildren.set(child.pid!, child);
  return { name: 'junction', port: Number(m[1]), pid: child.pid!, stop: () => stopChild(child) };
}

/** Runs in the child: a broker in memory with only the XMPP adapter. */
async function serve(): Promise<void> {
  const { Broker } = await import('../core/broker.js');
  const { MemoryStore } = await import('../core/storage/memory-store.js');
  const { XmppAdapter } = await import('../adapters/xmpp/index.js');
  const { createAuthPlugin, createSaslService, MemoryUserStore } = await import('../plugins/auth/index.js');
  const broker = new Broker(new MemoryStore());
  await broker.open();
  const store = new MemoryUserStore();
  const auth = await createAuthPlugin({ config: { usersFile: null, allowAnonymous: false, rules: [] }, users: store, registrations: store });
  const noop = () => {};
  const log = { info: noop, warn: noop, error: (o: unknown) => console.error(o), debug: noop, child: () => log };
  const adapter = new XmppAdapter();
  await adapter.init(withListeners({
    broker, auth, sasl: createSaslService(auth), log, http: null, tls: () => null,
    config: { xmpp: { domain: DOMAIN, registration: true, maxResourcesPerUser: 10000, rateBytesPerSecond: 0 }, limits: { maxConnections: 100000 } },
    listen: { host: '127.0.0.1', port: 0, tlsPort: null },
  }, 'xmpp'));
  const [l] = await adapter.start();
  process.stdout.write(`XMPP_PORT ${l.port}\n`);
  process.stdin.on('data', () => {
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write('GC_DONE\n');
  });
  process.on('SIGTERM', () => void adapter.stop().then(() => broker.close()).then(() => process.exit(0)));
}

async function startProsody(dir: string): Promise<Target | null> {
  if (spawnSync('sh', ['-c', 'command -v prosody'], { stdio: 'ignore' }).status !== 0) return null;
  const port = await freePort();
  const cfg = join(dir, 'prosody.cfg.lua');
  writeFileSync(cfg, `
run_as_root = true
pidfile = "${dir}/prosody.pid"
data_path = "${dir}"
log = { error = "${dir}/prosody.err"; }
admins = { "bench0@${DOMAIN}" }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "register"; "posix"; "offline"; }
modules_disabled = { "s2s"; "tls"; "http"; "bosh"; "websocket"; }
allow_registration = true
min_seconds_between_registrations = 0
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
VirtualHost "${DOMAIN}"
Component "pubsub.${DOMAIN}" "pubsub"
`);
  const child = spawn('prosody', ['--config', cfg, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr?.on('data', () => {});
  child.stdout?.on('data', () => {});
  // Ready when the port accepts connections.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return { name: 'prosody', port, pid: child.pid!, stop: () => stopChild(child) };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopChild(child);
  console.log(`prosody did not start: ${(() => { try { return readFileSync(`${dir}/prosody.err`, 'utf8').slice(-500); } catch { return ''; } })()}`);
  return null;
}

// ---- measurements ---------------------------------------------------------------------------------

interface Figures {
  chatPerSec: number;
  fanoutPerSec: number;
  bytesPerSession: number;
  sessions: number;
}

async function chat(port: number): Promise<number> {
  const a = await BenchClient.login(port, 'bench0', 'pw', 'chat-a');
  const b = await BenchClient.login(port, 'bench1', 'pw', 'chat-b');
  await new Promise((r) => setTimeout(r, 200));
  b.countOnly();
  b.count = 0;
  const body = 'x'.repeat(100);
  const msg = (i: number) => `<message to='bench1@${DOMAIN}/chat-b' type='chat' id='m${i}'><body>${body}</body></message>`;
  const WINDOW = 2000;
  let sent = 0;
  const start = process.hrtime.bigint();
  const end = Date.now() + SECONDS * 1000;
  while (Date.now() < end) {
    while (sent - b.count < WINDOW) {
      let batch = '';
      for (let i = 0; i < 100; i++) batch += msg(sent++);
      a.send(batch);
    }
    await b.waitCount(sent - WINDOW / 2, 10000);
  }
  await b.waitCount(sent, 20000);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = b.count / secs;
  a.close();
  b.close();
  return rate;
}

async function fanout(port: number): Promise<number> {
  const node = `bench.fanout${Date.now().toString(36)}`;
  const pub = await BenchClient.login(port, 'bench0', 'pw', 'pub');
  pub.send(`<iq type='set' id='create' to='pubsub.${DOMAIN}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='${node}'/></pubsub></iq>`);
  await pub.waitFor(/id=['"]create['"]/);
  const subs: BenchClient[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const s = await BenchClient.login(port, `bench${i + 2}`, 'pw', 'sub');
    s.send(`<iq type='set' id='sub' to='pubsub.${DOMAIN}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='${node}' jid='bench${i + 2}@${DOMAIN}'/></pubsub></iq>`);
    await s.waitFor(/id=['"]sub['"][\s\S]*?(subscribed|<\/iq>)/);
    subs.push(s);
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const s of subs) { s.countOnly(); s.count = 0; }
  pub.countMarker = '</iq>';
  pub.countOnly();
  pub.count = 0;
  let published = 0;
  const WINDOW = 50;
  const start = process.hrtime.bigint();
  const end = Date.now() + SECONDS * 1000;
  const item = (i: number) => `<iq type='set' id='p${i}' to='pubsub.${DOMAIN}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item id='i${i}'><payload xmlns='urn:junction:payload:0' encoding='utf-8'>${'y'.repeat(100)}</payload></item></publish></pubsub></iq>`;
  while (Date.now() < end) {
    while (published - pub.count < WINDOW) pub.send(item(published++));
    await pub.waitCount(published - WINDOW / 2, 10000);
    const slowest = Math.min(...subs.map((s) => s.count));
    if (published - slowest > 500) await Promise.all(subs.map((s) => s.waitCount(published - 250, 10000)));
  }
  await Promise.all(subs.map((s) => s.waitCount(published, 30000)));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const delivered = subs.reduce((n, s) => n + Math.min(s.count, published), 0);
  pub.close();
  for (const s of subs) s.close();
  return delivered / secs;
}

async function memory(t: Target, gc: () => Promise<void>): Promise<{ perSession: number; sessions: number }> {
  await new Promise((r) => setTimeout(r, 1000));
  await gc();
  const before = rss(t.pid);
  const clients: BenchClient[] = [];
  const users = 50;
  let failed = 0;
  for (let i = 0; i < SESSIONS; i += 50) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(50, SESSIONS - i) }, (_, k) =>
      BenchClient.login(t.port, `bench${(i + k) % users}`, 'pw', `idle${i + k}`)));
    for (const r of batch) if (r.status === 'fulfilled') { r.value.countOnly(); clients.push(r.value); } else failed++;
  }
  await new Promise((r) => setTimeout(r, 2000));
  await gc();
  const after = rss(t.pid);
  for (const c of clients) c.socket.destroy();
  if (failed) console.log(`  ${t.name}: ${failed} idle logins failed`);
  return { perSession: (after - before) / Math.max(1, clients.length), sessions: clients.length };
}

async function registerAll(t: Target): Promise<void> {
  for (let i = 0; i < SUBSCRIBERS + 2; i++) await BenchClient.register(t.port, `bench${i}`, 'pw');
}

/**
 * Throughput on one server process; memory on a fresh one (a process that already ran the
 * throughput phases keeps that memory, which would hide what idle sessions cost).
 */
async function measure(name: string, start: () => Promise<Target | null>, gcOf: (t: Target) => () => Promise<void>): Promise<Figures | null> {
  const t = await start();
  if (!t) return null;
  let chatPerSec: number;
  let fanoutPerSec: number;
  try {
    await registerAll(t);
    chatPerSec = await chat(t.port);
    console.log(`  ${name}: chat ${Math.round(chatPerSec)} msg/s`);
    fanoutPerSec = await fanout(t.port);
    console.log(`  ${name}: pubsub fan-out 1->${SUBSCRIBERS} ${Math.round(fanoutPerSec)} notifications/s`);
  } finally {
    await t.stop();
  }
  const t2 = (await start())!;
  try {
    await registerAll(t2);
    const mem = await memory(t2, gcOf(t2));
    console.log(`  ${name}: ${Math.round(mem.perSession)} bytes RSS per idle session (${mem.sessions} sessions)`);
    return { chatPerSec, fanoutPerSec, bytesPerSession: mem.perSession, sessions: mem.sessions };
  } finally {
    await t2.stop();
  }
}

export async function runXmppBench(): Promise<void> {
  console.log(`XMPP: ${SECONDS}s per timed phase, ${SESSIONS} idle sessions, fan-out 1->${SUBSCRIBERS}`);
  const results: Record<string, Figures> = {};
  results.junction = (await measure('junction', startJunction, (t) => () => junctionGc(t)))!;
  const dirs: string[] = [];
  const startP = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-prosody-'));
    dirs.push(dir);
    return startProsody(dir);
  };
  try {
    const p = await measure('prosody', startP, () => async () => {});
    if (p) results.prosody = p;
    else console.log('prosody: not installed (apt-get install -y prosody) - no comparison');
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  console.log('\n| figure | junction | prosody | ratio (higher = Junction better) |');
  console.log('|---|---|---|---|');
  const J = results.junction;
  const P = results.prosody;
  const row = (name: string, jv: number, pv: number | undefined, unit: string, lowerBetter = false) => {
    const ratio = pv === undefined ? '-' : `${(lowerBetter ? pv / jv : jv / pv).toFixed(2)}x`;
    console.log(`| ${name} | ${Math.round(jv)} ${unit} | ${pv === undefined ? '-' : `${Math.round(pv)} ${unit}`} | ${ratio} |`);
  };
  row('chat throughput', J.chatPerSec, P?.chatPerSec, 'msg/s');
  row(`pubsub fan-out 1->${SUBSCRIBERS}`, J.fanoutPerSec, P?.fanoutPerSec, 'notif/s');
  row('memory per idle session', J.bytesPerSession, P?.bytesPerSession, 'B', true);
}

const junctionChildren = new Map<number, ChildProcess>();
async function junctionGc(t: Target): Promise<void> {
  const child = junctionChildren.get(t.pid);
  if (!child?.stdin) return;
  child.stdin.write('gc\n');
  await waitLine(child, /GC_DONE/, 10000).catch(() => undefined);
}


if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--serve')) {
    await serve();
  } else {
    await runXmppBench();
  }
}

