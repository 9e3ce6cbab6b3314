/**
 * SASL for the AMQP listener (spec part 5.3): the platform's mechanisms (plugins/auth/sasl.ts)
 * behind rhea's server mechanism contract (`start(response, hostname)` / `step(response)` resolve
 * to a challenge until `outcome` is set, then `username`). Offered: EXTERNAL (a verified client
 * certificate), SCRAM-SHA-512/256/1, PLAIN, ANONYMOUS (while the auth plugin allows anonymous
 * access). SCRAM's server-final message goes in the sasl-outcome's additional-data
 * (`additionalData`, written by addOutcomeData in rhea-internals.ts).
 */
import type { Principal, SaslExchange, SaslOutcome, SaslPeer, SaslService } from '../../core/adapter.js';

export interface SaslHooks {
  /** Authentication succeeded. */
  authenticated(principal: Principal, mechanism: string): void;
  /** Authentication failed; the outcome is on its way to the client. */
  failed(mechanism: string, reason: string): void;
}

/** One mechanism as rhea's SaslServer drives it. */
class RheaMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  /** Sent with a successful outcome (SCRAM's server-final message). */
  additionalData: Buffer | undefined;
  private started = false;

  constructor(private readonly exchange: SaslExchange, private readonly name: string, private readonly hooks: SaslHooks) {}

  async start(response: unknown): Promise<Buffer | undefined> {
    this.started = true;
    // rhea hands over whatever type the peer encoded: only binary (or nothing) is a response.
    if (response !== undefined && response !== null && !Buffer.isBuffer(response)) return this.settle(malformed());
    return this.settle(await this.exchange.start(this.name, (response as Buffer | null | undefined) ?? null));
  }

  async step(response: unknown): Promise<Buffer | undefined> {
    if (!this.started || this.outcome !== undefined) return this.settle(malformed());
    const data = response === undefined || response === null ? Buffer.alloc(0) : response;
    if (!Buffer.isBuffer(data)) return this.settle(malformed());
    return this.settle(await this.exchange.step(data));
  }

  private settle(o: SaslOutcome): Buffer | undefined {
    if (o.kind === 'challenge') return o.data;
    if (o.kind === 'success') {
      this.outcome = true;
      this.username = o.principal.user;
      this.additionalData = o.data;
      this.hooks.authenticated(o.principal, this.name);
    } else {
      this.outcome = false;
      this.hooks.failed(this.name, o.message);
    }
    return undefined;
  }
}

function malformed(): SaslOutcome {
  return { kind: 'failure', reason: 'malformed-request', message: 'SASL response is not binary' };
}

/**
 * rhea server mechanisms for one connection (own property names are the offered list, in this
 * order). All share the connection's one exchange.
 */
export function serverMechanisms(sasl: SaslService, peer: SaslPeer, hooks: SaslHooks): Record<string, () => unknown> {
  const exchange = sasl.exchange(peer);
  const mechs: Record<string, () => unknown> = {};
  for (const name of sasl.offered(peer)) mechs[name] = () => new RheaMechanism(exchange, name, hooks);
  return mechs;
}
