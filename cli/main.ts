/**
 * Entry of the command-line tools (bin/junction.js dispatches here): the Kafka tools under their
 * kafka-*.sh names without prefix and suffix, and send/receive for every protocol. Each tool is
 * loaded only when asked for, and its protocol client only when it connects.
 */
import { CliError } from './errors.js';
import { err } from './output.js';

type Tool = (argv: string[]) => Promise<number>;

export const TOOLS: Record<string, { summary: string; load: () => Promise<Tool> }> = {
  topics: { summary: 'create, list, describe, alter, delete Kafka topics (kafka-topics.sh)', load: async () => (await import('./topics.js')).topicsCommand },
  'console-producer': { summary: 'write stdin lines as records (kafka-console-producer.sh)', load: async () => (await import('./console-producer.js')).consoleProducerCommand },
  'console-consumer': { summary: 'print records of a topic (kafka-console-consumer.sh)', load: async () => (await import('./console-consumer.js')).consoleConsumerCommand },
  'consumer-groups': { summary: 'list, describe, reset, delete consumer groups (kafka-consumer-groups.sh)', load: async () => (await import('./consumer-groups.js')).consumerGroupsCommand },
  configs: { summary: 'describe or alter topic and broker configs (kafka-configs.sh)', load: async () => (await import('./configs.js')).configsCommand },
  send: { summary: 'send a message (or stdin lines) to a URL of any protocol', load: async () => (await import('./send.js')).sendCommand },
  receive: { summary: 'print messages received from a URL of any protocol', load: async () => (await import('./receive.js')).receiveCommand },
};

/** Runs tool `name`; resolves to the exit code after printing any failure as one line. */
export async function runTool(name: string, argv: string[]): Promise<number> {
  const tool = TOOLS[name];
  if (!tool) {
    err(`junction: unknown command "${name}"`);
    return 1;
  }
  process.stdout.on('error', stdoutClosed);
  try {
    return await (await tool.load())(argv);
  } catch (e) {
    if (e instanceof CliError) {
      err(e.message);
      return e.exitCode;
    }
    if (process.env.JUNCTION_DEBUG) err(String((e as Error)?.stack ?? e));
    else err(`junction ${name}: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  }
}

let readerGone = false;

/**
 * The reader of stdout went away (`junction console-consumer ... | head -3`): a tool that runs until
 * Ctrl-C ends as on Ctrl-C (commits, prints its total); any other leaves quietly, as `head` expects.
 */
function stdoutClosed(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  if (readerGone) return;
  readerGone = true;
  if (process.listenerCount('SIGINT') > 0) process.emit('SIGINT');
  else process.exit(0);
}
