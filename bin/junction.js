#!/usr/bin/env node
// Junction CLI: `junction start [flags]`, `junction passwd FILE USER`, the Kafka tools (topics,
// console-producer, console-consumer, consumer-groups, configs), send/receive, --help, --version.
// Plain JavaScript over the compiled library in ../dist (npm start builds it first).
import { existsSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const dist = new URL('../dist/index.js', import.meta.url);

function die(line, code) {
  process.stderr.write(`junction: ${line}\n`);
  process.exit(code);
}

async function lib() {
  if (!existsSync(dist)) die('not built yet: run `npm run build` (npm start does it)', 1);
  return import(dist.href);
}

async function help() {
  const { flagsHelp } = await import(new URL('../dist/config/flags.js', import.meta.url).href).catch(() => ({ flagsHelp: () => '' }));
  return `junction ${pkg.version}: one broker for MQTT, AMQP 1.0, STOMP, XMPP and the Kafka wire protocol

usage:
  junction start [options]        start the broker (stops gracefully on SIGINT/SIGTERM)
  junction passwd FILE USER       add or replace USER in users file FILE (password from the
                                  terminal, or the first line of stdin); --delete removes USER;
                                  --admin lets USER administer the broker (admin API, console),
                                  --no-admin takes that away (otherwise an existing flag is kept)
  junction topics ...             Kafka topics: --create, --list, --describe, --alter, --delete
  junction console-producer ...   stdin lines to a Kafka topic (kafka-console-producer.sh)
  junction console-consumer ...   records of a Kafka topic to stdout (kafka-console-consumer.sh)
  junction consumer-groups ...    --list, --describe, --reset-offsets, --delete consumer groups
  junction configs ...            --describe or --alter topic and broker configs
  junction send URL [MESSAGE]     send MESSAGE (or stdin lines) over mqtt, amqp, stomp, kafka, xmpp
  junction receive URL            print messages received from such a URL
  junction --help | --version

The Kafka tools take kafka-*.sh's flags and print its output, against Junction or any Kafka broker.
"junction <command> --help" describes each; docs/cli.md has them all.

start options (flags > JUNCTION_* environment > --config file > defaults):
${flagsHelp()}

Port 0 disables a listener. Environment: JUNCTION_DATA_DIR, JUNCTION_MQTT_PORT,
JUNCTION_STORAGE_FSYNC, nested keys with __ (JUNCTION_KAFKA__ADVERTISED_HOST).
Every key: docs/configuration.md
`;
}

/**
 * The broker's V8 old generation may grow by this much past what the last full GC kept before the
 * next one (V8's own heuristic lets it grow up to 4x on a machine with memory to spare). A broker
 * under load promotes short-lived per-message objects, and the buffers they hold stay allocated
 * until a full GC: filling a queue with 1 M messages peaked at 301-366 MiB RSS without this bound
 * and 235-266 MiB with it, for 10-15% of the publish rate (docs/storage.md, "Memory"). Read at
 * every full GC, so setting it after start takes effect; `node --heap-growing-percent=N
 * bin/junction.js start` sets another (0: V8's own heuristic).
 */
const HEAP_GROWING_PERCENT = 60;

function boundHeapGrowth() {
  if (process.execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

const EXPECTED_START_ERRORS = new Set(['DataDirInUseError', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES']);

async function start(argv) {
  if (argv.includes('--help') || argv.includes('-h')) return process.stdout.write(await help());
  boundHeapGrowth();
  const { loadConfig, startBroker, ConfigError, createLogger } = await lib();
  let config;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) die(`config error: ${err.message}`, 2);
    throw err;
  }
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { name: 'junction', pid: process.pid } });
  let running;
  try {
    running = await startBroker({ argv, env: process.env, logger: log });
  } catch (err) {
    if (err instanceof ConfigError) die(`config error: ${err.message}`, 2);
    if (err?.name === 'ClusterUnavailableError' || err?.name === 'NodeIdInUseError') die(`cluster: ${err.message}`, 3);
    // Expected failures (data directory held by another broker, port taken) get one line; only
    // an unexpected one is logged with its stack first.
    if (!EXPECTED_START_ERRORS.has(err?.name) && !EXPECTED_START_ERRORS.has(err?.code)) log.fatal({ err }, 'start-up failed');
    die(`cannot start: ${err?.message ?? err}`, 1);
  }
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      await running.close();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGHUP', () => {
    running.auth.reload().then(
      () => log.info({ users: running.auth.userCount }, 'users reloaded'),
      (err) => log.error({ err: err.message }, 'users reload failed; keeping the previous users'),
    );
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
}

async function readPassword(prompt) {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks = [];
    for await (const c of stdin) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let pw = '';
  return new Promise((resolve) => {
    const onData = (buf) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.off('data', onData);
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(pw);
        }
        if (ch === '\u0003') die('cancelled', 130);
        if (ch === '\u007f') pw = pw.slice(0, -1);
        else pw += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function passwd(args) {
  const flags = new Set(['--delete', '--admin', '--no-admin']);
  const del = args.includes('--delete');
  const admin = args.includes('--admin') ? true : args.includes('--no-admin') ? false : undefined;
  const [file, user, extra] = args.filter((a) => !flags.has(a));
  if (!file || !user || extra || (admin !== undefined && (del || (args.includes('--admin') && args.includes('--no-admin'))))) {
    die('usage: junction passwd FILE USER [--admin | --no-admin | --delete]', 2);
  }
  const auth = await import(new URL('../dist/plugins/auth/index.js', import.meta.url).href);
  const store = new auth.FileUserStore(file, true);
  if (del) {
    await store.delete(user);
    return process.stderr.write(`junction: user ${user} removed from ${file}\n`);
  }
  try {
    auth.checkUserName(user);
  } catch (err) {
    die(err.message, 2);
  }
  const pw = await readPassword(`password for ${user}: `);
  if (process.stdin.isTTY && (await readPassword('again: ')) !== pw) die('passwords differ', 2);
  if (!pw) die('empty password refused', 2);
  // The entry is rewritten as an ordinary user (a registered account becomes one); the admin flag is kept unless changed.
  const isAdmin = admin ?? (await store.load()).get(user)?.admin === true;
  const record = await auth.createUserRecord(pw);
  await store.put(user, isAdmin ? { ...record, admin: true } : record);
  process.stderr.write(`junction: user ${user}${isAdmin ? ' (admin)' : ''} written to ${file} (send SIGHUP to a running broker to reload)\n`);
}

const TOOLS = new Set(['topics', 'console-producer', 'console-consumer', 'consumer-groups', 'configs', 'send', 'receive']);

async function tool(name, args) {
  const main = new URL('../dist/cli/main.js', import.meta.url);
  if (!existsSync(main)) die('not built yet: run `npm run build`', 1);
  const { runTool } = await import(main.href);
  const code = await runTool(name, args);
  // Clients may leave sockets or timers behind; the tool's work is done, so leave now, but only
  // after stdout and stderr are flushed: on a pipe their writes are asynchronous, and exiting
  // earlier would cut `junction console-consumer ... | wc -l` short.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => {
    s.once('error', resolve); // EPIPE: the reader went away, nothing more to flush
    s.write('', resolve);
  })));
  process.exit(code);
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') process.stdout.write(`${pkg.version}\n`);
  else if (cmd === '--help' || cmd === '-h' || cmd === 'help') process.stdout.write(await help());
  else if (cmd === 'start') await start(rest);
  else if (cmd === 'passwd') await passwd(rest);
  else if (TOOLS.has(cmd)) await tool(cmd, rest);
  else {
    process.stderr.write(await help());
    die(cmd ? `unknown command "${cmd}"` : 'a command is needed', 2);
  }
} catch (err) {
  die(err?.stack ?? String(err), 1);
}
