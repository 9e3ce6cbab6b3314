/** Command-line flags of `junction start`, turned into a configuration layer. */
import { ConfigError } from './errors.js';
import { coerce, setPath } from './paths.js';

interface FlagSpec {
  flag: string;
  path?: string[];
  /** Value given when the flag takes no argument. */
  constant?: unknown;
  arg?: string;
  help: string;
}

const PORT_FLAGS: FlagSpec[] = (['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'] as const).map((p) => ({
  flag: `--${p}-port`,
  path: [p, 'port'],
  arg: 'N',
  help: `${p.toUpperCase()} listener port (0 disables it, "auto" = ephemeral)`,
}));
const TLS_PORT_FLAGS: FlagSpec[] = (['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'] as const).map((p) => ({
  flag: `--${p}-tls-port`,
  path: [p, 'tlsPort'],
  arg: 'N',
  help: `${p.toUpperCase()} over TLS port (when a certificate is configured)`,
}));

export const FLAGS: FlagSpec[] = [
  { flag: '--config', arg: 'FILE', help: 'configuration file (YAML or JSON)' },
  { flag: '--data-dir', path: ['dataDir'], arg: 'DIR', help: 'storage directory (default ./data)' },
  { flag: '--in-memory', path: ['storage', 'engine'], constant: 'memory', help: 'keep nothing on disk' },
  { flag: '--host', path: ['host'], arg: 'H', help: 'interface to bind (default: all interfaces)' },
  ...PORT_FLAGS,
  ...TLS_PORT_FLAGS,
  { flag: '--fsync', path: ['storage', 'fsync'], arg: 'P', help: 'always | interval | never' },
  { flag: '--log-level', path: ['log', 'level'], arg: 'L', help: 'fatal | error | warn | info | debug | trace | silent' },
  { flag: '--log-format', path: ['log', 'format'], arg: 'F', help: 'pretty | json (default: pretty on a terminal)' },
  { flag: '--users-file', path: ['auth', 'usersFile'], arg: 'FILE', help: 'users file written by `junction passwd`' },
  { flag: '--cluster', path: ['cluster', 'servers'], arg: 'URLS', help: 'join a cluster: NATS servers nats://h:p,... (docs/cluster.md)' },
  { flag: '--node-id', path: ['cluster', 'nodeId'], arg: 'N', help: 'this node\'s id in the cluster (Kafka broker id)' },
  { flag: '--set', arg: 'KEY=VALUE', help: 'any configuration key, e.g. --set streams.defaultPartitions=3' },
];

export interface ParsedFlags {
  configFile?: string;
  layer: Record<string, unknown>;
}

export function parseFlags(argv: string[]): ParsedFlags {
  const layer: Record<string, unknown> = {};
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new ConfigError(`unexpected argument "${a}" (see junction --help)`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const spec = FLAGS.find((f) => f.flag === name);
    if (!spec) throw new ConfigError(`unknown option ${name} (see junction --help)`);
    let value: string | undefined;
    if (spec.arg) {
      if (eq > 0) value = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
      else throw new ConfigError(`option ${name} needs a value (${spec.arg})`);
    } else if (eq > 0) {
      throw new ConfigError(`option ${name} takes no value`);
    }
    if (name === '--config') {
      configFile = value;
    } else if (name === '--set') {
      const at = value!.indexOf('=');
      if (at <= 0) throw new ConfigError(`option --set needs KEY=VALUE (got "${value}")`);
      const path = value!.slice(0, at).split('.');
      setPath(layer, path, coerce(value!.slice(at + 1), path));
    } else {
      setPath(layer, spec.path!, spec.arg ? coerce(value!, spec.path!) : spec.constant);
    }
  }
  return { configFile, layer };
}

export function flagsHelp(): string {
  return FLAGS.map((f) => `  ${(f.flag + (f.arg ? ` ${f.arg}` : '')).padEnd(26)}${f.help}`).join('\n');
}
