/**
 * `junction receive URL`: prints the messages arriving at a destination of any protocol, one per
 * line (the body as is) or with --json one JSON object per line (body, headers, content type and
 * the protocol's own fields). Ends after --count messages, after --timeout seconds without one,
 * or on Ctrl-C.
 */
import { integer, newCommand, parseArgs } from './args.js';
import { CliError } from './errors.js';
import { err, Progress } from './output.js';
import { connectionFlags, connectOptions, protocolClient, type ConnectionFlags } from './protocols/index.js';
import type { ReceivedMessage, Receiver } from './protocols/types.js';
import { parseTarget } from './protocols/url.js';
import { failure } from './send.js';

interface ReceiveOptions extends ConnectionFlags {
  count?: number;
  timeout?: number;
  json?: boolean;
  fromBeginning?: boolean;
  group?: string;
}

export function jsonLine(protocol: string, m: ReceivedMessage): string {
  const text = m.body.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8').equals(m.body);
  return JSON.stringify({
    protocol,
    ...m.fields,
    headers: m.headers,
    ...(m.contentType ? { contentType: m.contentType } : {}),
    body: utf8 ? text : m.body.toString('base64'),
    ...(utf8 ? {} : { bodyEncoding: 'base64' }),
  }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

export async function receiveCommand(argv: string[]): Promise<number> {
  const cmd = connectionFlags(newCommand('receive', 'Print the messages arriving at URL (mqtt[s]://host/a/+/c, stomp[s]://host/queue/jobs, amqp[s]://host/topic/a.b, kafka[s]://host/topic, xmpp[s]://user:pw@domain/node).')
    .argument('<url>', 'where to receive from')
    .option('--count <n>', 'stop after n messages', integer(1))
    .option('--timeout <seconds>', 'stop when no message arrived for this long', integer(1))
    .option('--json', 'one JSON object per message: body, headers, contentType and the protocol\'s fields')
    .option('--from-beginning', 'kafka: start at the earliest record (when the group has no offset)')
    .option('--group <id>', 'kafka: consumer group whose offsets are used and committed'));
  if (!parseArgs(cmd, argv)) return 0;
  const [url] = cmd.processedArgs as [string];
  const o = cmd.opts<ReceiveOptions>();
  const target = parseTarget(url, 'receive');
  if ((o.fromBeginning || o.group) && target.protocol !== 'kafka') throw new CliError(`junction receive: --from-beginning and --group are for kafka:// URLs`);
  const client = await protocolClient(target.protocol);
  let received = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => { resolveDone = r; });
  let idle: NodeJS.Timeout | null = null;
  let timedOut = false;
  const arm = () => {
    if (o.timeout === undefined) return;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => { timedOut = true; resolveDone(); }, o.timeout * 1000);
  };
  const progress = !process.stdout.isTTY ? await Progress.start('received') : null;
  let receiver: Receiver | null = null;
  try {
    receiver = await client.receiver({ ...connectOptions(target, o), count: o.count, fromBeginning: o.fromBeginning, group: o.group });
    await receiver.start((m) => {
      if (o.count !== undefined && received >= o.count) return false;
      received++;
      if (o.json) process.stdout.write(`${jsonLine(target.protocol, m)}\n`);
      else process.stdout.write(Buffer.concat([m.body, Buffer.from('\n')]));
      progress?.add();
      if (o.count !== undefined && received >= o.count) resolveDone();
      else arm();
      return true;
    });
    arm();
    process.once('SIGINT', () => resolveDone());
    process.once('SIGTERM', () => resolveDone());
    await done;
  } catch (e) {
    throw failure(e, target.host, target.port, target.protocol, 'receive');
  } finally {
    if (idle) clearTimeout(idle);
    progress?.stop();
    await receiver?.close().catch(() => undefined);
  }
  if (timedOut && o.count !== undefined && received < o.count) {
    err(`junction receive: ${received} of ${o.count} messages arrived before ${o.timeout} s passed without one`);
    return 1;
  }
  return 0;
}
