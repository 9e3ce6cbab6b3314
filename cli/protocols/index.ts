/** The protocol clients of send/receive, each loaded only when its scheme is used. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import type { ConnectOptions, ProtocolClient } from './types.js';
import type { ProtocolName, Target } from './url.js';

export async function protocolClient(name: ProtocolName): Promise<ProtocolClient> {
  switch (name) {
    case 'mqtt': return (await import('./mqtt.js')).mqttClient;
    case 'stomp': return (await import('./stomp.js')).stompClient;
    case 'amqp': return (await import('./amqp.js')).amqpClient;
    case 'kafka': return (await import('./kafka.js')).kafkaProtocol;
    case 'xmpp': return (await import('./xmpp.js')).xmppClient;
  }
}

/** Flags shared by send and receive. */
export function connectionFlags(cmd: Command): Command {
  return cmd
    .option('--user <name>', 'user name (or user:password@ in the URL)')
    .option('--password <secret>', 'password (or in the URL)')
    .option('--ca <file>', 'TLS: trust this CA certificate (PEM) for the server')
    .option('--insecure', 'TLS: do not check the server certificate');
}

export interface ConnectionFlags { user?: string; password?: string; ca?: string; insecure?: boolean }

export function connectOptions(target: Target, f: ConnectionFlags): ConnectOptions {
  let ca: Buffer | undefined;
  if (f.ca) {
    try {
      ca = readFileSync(f.ca);
    } catch (e) {
      throw new CliError(`junction: --ca: cannot read ${f.ca}: ${(e as Error).message}`);
    }
  }
  return {
    target,
    user: f.user ?? target.user,
    password: f.password ?? target.password,
    tls: { rejectUnauthorized: f.insecure !== true, ...(ca ? { ca } : {}) },
  };
}
