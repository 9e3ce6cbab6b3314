/**
 * The topics one connection publishes to: MQTT topic -> core name and publish authorisation, both
 * remembered (a device usually publishes to one topic, or a few).
 */
import type { AuthPlugin, Principal } from '../../core/adapter.js';
import { mqttTopicToCore } from './topics.js';

/** Topics whose publish authorisation a connection remembers. */
const AUTH_CACHE_SIZE = 16;

export class PublishTopics {
  private lastAuthTopic: string | null = null;
  private lastAuthResult = false;
  private lastInTopic: string | null = null;
  private lastInCore = '';
  /** Publish authorisations by core topic, at most AUTH_CACHE_SIZE. */
  private authCache: Map<string, boolean> | null = null;

  constructor(private readonly auth: AuthPlugin, private readonly principal: () => Principal | null) {}

  /** MQTT topic -> core name, remembering the last one. */
  coreTopic(topic: string): string {
    if (topic !== this.lastInTopic) {
      this.lastInTopic = topic;
      this.lastInCore = mqttTopicToCore(topic);
    }
    return this.lastInCore;
  }

  /** Publish authorisation for a core topic, cached. */
  mayPublish(topic: string): boolean {
    if (topic === this.lastAuthTopic) return this.lastAuthResult;
    const ok = this.authorise(topic);
    this.lastAuthTopic = topic;
    this.lastAuthResult = ok;
    return ok;
  }

  private authorise(topic: string): boolean {
    let cache = this.authCache;
    const hit = cache?.get(topic);
    if (hit !== undefined) return hit;
    const ok = this.auth.authorise(this.principal()!, 'publish', topic);
    if (!cache) this.authCache = cache = new Map();
    // Small: a device publishes to a few topics, and 10,000 connections each holding a large
    // cache grew the broker by megabytes a minute in the soak.
    if (cache.size >= AUTH_CACHE_SIZE) cache.clear();
    cache.set(topic, ok);
    return ok;
  }
}
