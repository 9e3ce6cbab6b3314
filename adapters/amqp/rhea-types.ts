/**
 * The shapes of rhea's engine internals the adapter reads and writes (rhea 3.0.5: lib/connection.js,
 * session.js, link.js, types.js). Declarations only: the code that reaches into rhea is
 * rhea-internals.ts, which re-exports these and pins the version they were checked against.
 */
import type { EventEmitter } from 'node:events';

/** rhea's Typed value (lib/types.js): `type.typecode`, `value`, optional `descriptor`. */
export interface RTyped {
  type: { typecode: number; name: string };
  value: unknown;
  descriptor?: RTyped;
}

export interface REndpointState {
  local_open: boolean;
  remote_open: boolean;
  open_requests: number;
  close_requests: number;
  open(): boolean;
  close(): boolean;
  is_open(): boolean;
  is_closed(): boolean;
}

/** A performative as rhea decodes it: field accessors over `value` (the raw field list). */
export interface RPerformative {
  value: unknown[];
  [field: string]: unknown;
}

export interface RFrame {
  channel: number;
  performative: RPerformative;
  payload?: Buffer;
}

export interface RDelivery {
  id: number;
  tag: Buffer;
  format: number;
  link: RLink;
  settled: boolean;
  remote_settled: boolean;
  state?: unknown;
  remote_state?: unknown;
  frames?: Buffer[];
  /** Outgoing: the frames' payloads (rhea keeps them until settled). */
  data?: Buffer[];
  incomplete?: boolean;
  update(settled: boolean | undefined, state?: unknown): void;
  /** Set by the adapter on outgoing deliveries: the core delivery tag. */
  coreTag?: number;
  /** Set by the adapter on incoming deliveries while frames arrive. */
  size?: number;
  dropped?: boolean;
}

export interface RCircularBuffer {
  capacity: number;
  size: number;
  available(): number;
  push(d: RDelivery): void;
  by_id(id: number): RDelivery | undefined;
  get_head(): RDelivery | undefined;
}

export interface ROutgoing {
  deliveries: RCircularBuffer;
  /** Deliveries with a lower id have been fully transferred. */
  next_pending_delivery: number;
  available(): number;
}

export interface RIncoming {
  deliveries: RCircularBuffer;
  next_transfer_id: number;
  next_delivery_id: number | undefined;
  update(d: RDelivery, settled: boolean | undefined, state?: unknown): void;
  on_transfer(frame: RFrame, receiver: RLink): void;
}

export interface RTerminus {
  address?: string;
  durable?: number;
  expiry_policy?: string;
  timeout?: number;
  dynamic?: boolean;
  dynamic_node_properties?: unknown;
  distribution_mode?: string;
  filter?: Record<string, unknown> | null;
  default_outcome?: unknown;
  outcomes?: unknown;
  capabilities?: string | string[] | null;
  value: unknown[];
  described(): RTyped;
}

export interface RAttach extends RPerformative {
  name: string;
  handle: number;
  role: boolean;
  snd_settle_mode: number;
  rcv_settle_mode: number;
  source: RTerminus | null;
  target: RTerminus | null;
  max_message_size?: number;
  initial_delivery_count?: number;
  offered_capabilities?: unknown;
  desired_capabilities?: unknown;
}

/** Our attach (written as is: termini are rhea Typed values or null). */
export interface RLocalAttach extends RPerformative {
  snd_settle_mode: number;
  rcv_settle_mode: number;
  source: unknown;
  target: unknown;
  max_message_size?: number;
}

export interface RLink extends EventEmitter {
  name: string;
  session: RSession;
  connection: RConnection;
  state: REndpointState;
  credit: number;
  delivery_count: number;
  issue_flow: boolean;
  local: { handle: number; attach: RLocalAttach; detach: RPerformative & { closed?: boolean; error?: unknown } };
  remote: { handle?: number; attach?: RAttach; detach?: RPerformative & { closed?: boolean; error?: unknown } };
  _incomplete?: RDelivery;
  _draining?: boolean;
  _drained?: boolean;
  _get_drain(): boolean;
  is_receiver(): boolean;
  is_sender(): boolean;
  is_open(): boolean;
  is_remote_open(): boolean;
  is_itself_closed(): boolean;
  is_closed(): boolean;
  close(error?: unknown): void;
  detach(): void;
  flow(credit: number): void;
  send(data: Buffer, tag: Buffer, format: number): RDelivery;
  sendable(): boolean;
}

export interface RSession extends EventEmitter {
  connection: RConnection;
  state: REndpointState;
  outgoing: ROutgoing;
  incoming: RIncoming;
  local: { channel: number; handles: Record<string, RLink>; begin: RPerformative };
  remote: { channel?: number; handles: Record<string, RLink> };
  links: Record<string, RLink>;
  end(error?: unknown): void;
  close(error?: unknown): void;
  is_open(): boolean;
  is_closed(): boolean;
  on_attach(frame: RFrame): void;
  on_disposition(frame: RFrame): void;
  on_transfer(frame: RFrame): void;
}

export interface RConnection extends EventEmitter {
  options: Record<string, unknown>;
  state: REndpointState;
  local: { open: RPerformative & Record<string, unknown>; close: RPerformative & { error?: unknown } };
  remote: { open?: RPerformative & { container_id?: string; max_frame_size?: number; idle_time_out?: number; hostname?: string }; close?: RPerformative };
  socket: unknown;
  registered: boolean;
  amqp_transport: unknown;
  local_channel_map: Record<string, RSession>;
  remote_channel_map: Record<string, RSession>;
  accept(socket: unknown): RConnection;
  open(): void;
  close(error?: unknown): void;
  is_open(): boolean;
  is_closed(): boolean;
  is_remote_open(): boolean;
  output(): void;
  _register(): void;
  _process(): void;
  _write_open(): void;
  _write_close(): void;
  create_session(buffer?: unknown): RSession;
  [method: string]: unknown;
}
