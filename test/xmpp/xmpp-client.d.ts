/** Minimal typings for @xmpp/client (the package ships none). */
declare module '@xmpp/client' {
  import { EventEmitter } from 'node:events';
  export interface XmlElement {
    name: string;
    attrs: Record<string, string>;
    children: Array<XmlElement | string>;
    getChild(name: string, ns?: string): XmlElement | undefined;
    getChildren(name: string, ns?: string): XmlElement[];
    getChildText(name: string, ns?: string): string | null;
    getChildElements(): XmlElement[];
    text(): string;
    is(name: string, ns?: string): boolean;
    getNS(): string;
    toString(): string;
  }
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<XmlElement | string | null | undefined>): XmlElement;
  export interface Client extends EventEmitter {
    jid: { toString(): string; bare(): { toString(): string } } | null;
    status: string;
    start(): Promise<unknown>;
    stop(): Promise<void>;
    send(...el: XmlElement[]): Promise<void>;
    disconnect(): Promise<void>;
    iqCaller: {
      request(el: XmlElement, timeout?: number): Promise<XmlElement>;
      get(el: XmlElement, to?: string, timeout?: number): Promise<XmlElement>;
      set(el: XmlElement, to?: string, timeout?: number): Promise<XmlElement>;
    };
    streamManagement: EventEmitter & { enabled: boolean; id: string; inbound: number; outbound: number; outbound_q: unknown[] };
    reconnect: EventEmitter & { delay: number; stop(): void };
    socket: { socket?: import('node:net').Socket; end(): void } | null;
    [k: string]: unknown;
  }
  export function client(options: Record<string, unknown>): Client;
}
