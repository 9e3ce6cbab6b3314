/**
 * `junction send URL [MESSAGE]`: one message, or one per stdin line, to a destination of any
 * protocol (cli/protocols/url.ts). Each is acknowledged by the broker before the next is sent;
 * the first failure ends the run with one line and exit 1.
 */
import { collect, keyValues, newCommand, parseArgs } from './args.js';
import { CliError, networkReason } from './errors.js';
import { forEachLineBatch } from './lines.js';
import { Progress } from './output.js';
import { connectionFlags, connectOptions, protocolClient, type ConnectionFlags } from './protocols/index.js';
import type { Sender } from './protocols/types.js';
import { parseTarget } from './protocols/url.js';

interface SendOptions extends ConnectionFlags {
  header?: string[];
  contentType?: string;
}

export async function sendCommand(argv: string[]): Promise<number> {
  const cmd = connectionFlags(newCommand('send', 'Send MESSAGE, or each line of stdin, to URL: mqtt[s]://host[:port]/a/b?qos=1&retain=true, stomp[s]://host/queue/jobs, amqp[s]://host/queue/jobs, kafka[s]://host/topic?key=k&partition=0, xmpp[s]://user:pw@domain/node.')
    .argument('<url>', 'where to send')
    .argument('[message]', 'the message (stdin lines when omitted)')
    .option('--header <key=value>', 'a header (MQTT 5 user property, STOMP header, AMQP application property, Kafka record header; repeatable)', collect)
    .option('--content-type <type>', 'the content type of every message'));
  if (!parseArgs(cmd, argv)) return 0;
  const [url, message] = cmd.processedArgs as [string, string | undefined];
  const o = cmd.opts<SendOptions>();
  const target = parseTarget(url, 'send');
  const headers = Object.fromEntries(keyValues(o.header, '--header'));
  const client = await protocolClient(target.protocol);
  let sender: Sender;
  try {
    sender = await client.sender(connectOptions(target, o));
  } catch (e) {
    throw failure(e, target.host, target.port, target.protocol);
  }
  const progress = message === undefined && !process.stdin.isTTY ? await Progress.start('sent') : null;
  try {
    const one = async (text: string) => {
      await sender.send({ body: Buffer.from(text, 'utf8'), headers, contentType: o.contentType });
      progress?.add();
    };
    if (message !== undefined) await one(message);
    else await forEachLineBatch(async (lines) => { for (const l of lines) await one(l); }, 100);
  } catch (e) {
    throw failure(e, target.host, target.port, target.protocol);
  } finally {
    progress?.stop();
    await sender.close().catch(() => undefined);
  }
  return 0;
}

/** One line for a client failure: unreachable broker, or the broker's (or client's) reason. */
export function failure(e: unknown, host: string, port: number, protocol: string, tool = 'send'): CliError {
  if (e instanceof CliError) return new CliError(e.message.startsWith('junction') ? e.message : `junction ${tool}: ${e.message}`);
  const net = networkReason(e);
  if (net) return new CliError(`junction ${tool}: cannot reach the ${protocol === 'kafka' ? 'Kafka' : protocol.toUpperCase()} broker at ${host}:${port}: ${net}`);
  return new CliError(`junction ${tool}: ${(e as Error)?.message ?? String(e)}`);
}
