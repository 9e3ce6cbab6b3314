/**
 * The group coordinator of this single node: consumer groups by id (membership held here, in
 * memory, as connection-level protocol state) and their committed offsets (in the core's
 * broker.offsets, so they survive restarts). A group known only by its committed offsets (after
 * a restart, or used by assign()-and-commit consumers) is reported as Empty.
 */
import type { Broker } from '../../../core/broker.js';
import { ErrorCode } from '../protocol/errors.js';
import { ConsumerGroup, GroupState, GroupTimings } from './consumer-group.js';

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupState;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, ConsumerGroup>();

  constructor(private readonly broker: Broker, private readonly timings: GroupTimings) {}

  get(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  getOrCreate(groupId: string): ConsumerGroup {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, (g = new ConsumerGroup(groupId, this.timings)));
    return g;
  }

  /** True when the group has members or committed offsets. */
  exists(groupId: string): boolean {
    const g = this.groups.get(groupId);
    return (g !== undefined && g.members.size > 0) || this.broker.offsets.list(groupId).length > 0;
  }

  /** Every group with members or committed offsets. */
  list(): GroupListing[] {
    const out = new Map<string, GroupListing>();
    for (const groupId of this.broker.offsets.groups()) out.set(groupId, { groupId, protocolType: 'consumer', state: 'Empty' });
    for (const g of this.groups.values()) {
      if (g.members.size === 0 && !out.has(g.groupId)) continue;
      out.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType ?? 'consumer', state: g.state });
    }
    return [...out.values()];
  }

  /** OffsetCommit's membership check (Kafka's rules for simple consumers and group members). */
  commitError(groupId: string, memberId: string, generationId: number): ErrorCode {
    const g = this.groups.get(groupId);
    if (!g || g.state === 'Dead') return generationId < 0 ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    return g.commitError(memberId, generationId);
  }

  /** DeleteGroups: only groups without members can go; their committed offsets go with them. */
  async delete(groupId: string): Promise<ErrorCode> {
    const g = this.groups.get(groupId);
    if (g && g.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    if (!g && this.broker.offsets.list(groupId).length === 0) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g) {
      g.shutdown(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      this.groups.delete(groupId);
    }
    await this.broker.offsets.deleteGroup(groupId);
    return ErrorCode.NONE;
  }

  shutdown(): void {
    for (const g of this.groups.values()) g.shutdown(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    this.groups.clear();
  }
}
