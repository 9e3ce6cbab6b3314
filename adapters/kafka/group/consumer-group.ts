/**
 * One consumer group under the classic rebalance protocol, as Kafka's GroupCoordinator runs it:
 * Empty -> PreparingRebalance (members (re)join; JoinGroup answers are held) -> CompletingRebalance
 * (the leader's SyncGroup brings the assignment) -> Stable; any join, leave or expired session goes
 * back to PreparingRebalance. Membership is protocol state held here; committed offsets live in
 * the core (broker.offsets).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import { EMPTY, GroupMember, type GroupTimings, type JoinRequest, type JoinResult, type MemberProtocol, type SyncResult } from './group-member.js';

export type { GroupTimings, JoinRequest, JoinResult, MemberProtocol, SyncResult } from './group-member.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export class ConsumerGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, GroupMember>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, expiring after the session timeout. */
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly synced = new Set<string>();
  private joinTimer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private delaying = false;
  private joinsDuringDelay = 0;
  private rebalanceStart = 0;

  constructor(readonly groupId: string, private readonly timings: GroupTimings) {}

  // ---- JoinGroup ---------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> | JoinResult {
    if (this.state === 'Dead') return this.joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId);
    if (!this.supportsProtocols(req.protocolType, req.protocols)) return this.joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId);

    if (req.memberId === '') {
      const memberId = `${req.clientId || 'member'}-${randomUUID()}`;
      if (req.requireKnownMemberId && req.groupInstanceId === null) {
        const timer = setTimeout(() => { this.pending.delete(memberId); this.maybeCompleteJoin(); }, req.sessionTimeoutMs);
        timer.unref();
        this.pending.set(memberId, timer);
        return this.joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      if (req.groupInstanceId !== null) {
        const old = [...this.members.values()].find((m) => m.groupInstanceId === req.groupInstanceId);
        if (old) this.removeMember(old, ErrorCode.UNKNOWN_MEMBER_ID);
      }
      return this.addMemberAndRebalance(memberId, req);
    }
    const pendingTimer = this.pending.get(req.memberId);
    if (pendingTimer) {
      clearTimeout(pendingTimer);
      this.pending.delete(req.memberId);
      return this.addMemberAndRebalance(req.memberId, req);
    }
    const member = this.members.get(req.memberId);
    if (!member) return this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    const sameProtocols = protocolsEqual(member.protocols, req.protocols);
    switch (this.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndAwait(member, req);
      case 'CompletingRebalance':
        if (sameProtocols) return this.currentGeneration(member);
        return this.updateMemberAndRebalance(member, req);
      case 'Stable':
        if (member.memberId === this.leaderId || !sameProtocols) return this.updateMemberAndRebalance(member, req);
        return this.currentGeneration(member);
      default:
        return this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId);
    }
  }

  private joinError(errorCode: ErrorCode, memberId: string): JoinResult {
    return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
  }

  private currentGeneration(member: GroupMember): JoinResult {
    this.touch(member);
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      memberId: member.memberId,
      members: member.memberId === this.leaderId ? this.memberList() : [],
    };
  }

  private addMemberAndRebalance(memberId: string, req: JoinRequest): Promise<JoinResult> {
    const m = new GroupMember(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.sessionTimeoutMs,
      req.rebalanceTimeoutMs, req.protocolType, req.protocols);
    this.members.set(memberId, m);
    if (this.members.size === 1) this.protocolType = req.protocolType;
    if (this.leaderId === null) this.leaderId = memberId;
    if (this.delaying) this.joinsDuringDelay++;
    const result = new Promise<JoinResult>((resolve) => { m.awaitingJoin = resolve; });
    this.prepareRebalance();
    this.maybeCompleteJoin();
    return result;
  }

  private updateMemberAndAwait(member: GroupMember, req: JoinRequest): Promise<JoinResult> {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    // A second join from the same member (a retry) replaces the first.
    member.awaitingJoin?.(this.joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    const result = new Promise<JoinResult>((resolve) => { member.awaitingJoin = resolve; });
    this.maybeCompleteJoin();
    return result;
  }

  private updateMemberAndRebalance(member: GroupMember, req: JoinRequest): Promise<JoinResult> {
    const result = this.updateMemberAndAwait(member, req);
    this.prepareRebalance();
    this.maybeCompleteJoin();
    return result;
  }

  private supportsProtocols(protocolType: string, protocols: MemberProtocol[]): boolean {
    if (protocolType === '' || protocols.length === 0) return false;
    if (this.members.size === 0) return true;
    if (protocolType !== this.protocolType) return false;
    return protocols.some((p) => [...this.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  private prepareRebalance(): void {
    if (this.state === 'PreparingRebalance') return;
    if (this.state === 'CompletingRebalance') this.failPendingSyncs(ErrorCode.REBALANCE_IN_PROGRESS);
    const wasEmpty = this.state === 'Empty';
    this.state = 'PreparingRebalance';
    this.rebalanceStart = Date.now();
    this.clearTimers();
    if (wasEmpty && this.timings.initialRebalanceDelayMs > 0) {
      this.delaying = true;
      this.armInitialDelay();
    } else {
      this.armRebalanceTimeout(this.rebalanceTimeout());
    }
  }

  /** Kafka's InitialDelayedJoin: wait `delay`, again while members keep arriving, up to the rebalance timeout. */
  private armInitialDelay(): void {
    this.joinsDuringDelay = 0;
    const delay = this.timings.initialRebalanceDelayMs;
    this.joinTimer = setTimeout(() => {
      this.joinTimer = null;
      const elapsed = Date.now() - this.rebalanceStart;
      const remaining = this.rebalanceTimeout() - elapsed;
      if (this.joinsDuringDelay > 0 && remaining > delay) {
        this.armInitialDelay();
        return;
      }
      this.delaying = false;
      if (!this.maybeCompleteJoin()) this.armRebalanceTimeout(Math.max(remaining, 0));
    }, delay);
    this.joinTimer.unref();
  }

  private armRebalanceTimeout(ms: number): void {
    this.joinTimer = setTimeout(() => {
      this.joinTimer = null;
      if (this.state === 'PreparingRebalance') this.completeJoin();
    }, ms);
    this.joinTimer.unref();
  }

  private rebalanceTimeout(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** Completes the join phase when every known member has rejoined; true if it did. */
  private maybeCompleteJoin(): boolean {
    if (this.state !== 'PreparingRebalance' || this.delaying) return false;
    if (this.pending.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    this.completeJoin();
    return true;
  }

  private completeJoin(): void {
    this.clearTimers();
    this.delaying = false;
    for (const m of [...this.members.values()]) if (!m.awaitingJoin) this.dropMember(m);
    this.generationId++;
    this.synced.clear();
    if (this.members.size === 0) {
      this.state = 'Empty';
      this.protocolName = null;
      this.leaderId = null;
      return;
    }
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    this.protocolName = this.selectProtocol();
    this.state = 'CompletingRebalance';
    for (const m of this.members.values()) {
      const resolve = m.awaitingJoin!;
      m.awaitingJoin = null;
      m.assignment = EMPTY;
      this.touch(m);
      resolve({
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolType: this.protocolType,
        protocolName: this.protocolName,
        leader: this.leaderId,
        memberId: m.memberId,
        members: m.memberId === this.leaderId ? this.memberList() : [],
      });
    }
    // Members that never send SyncGroup (a leader gone quiet) are dropped after the rebalance timeout.
    const generation = this.generationId;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      if (this.state !== 'CompletingRebalance' || this.generationId !== generation) return;
      for (const m of [...this.members.values()]) if (!this.synced.has(m.memberId)) this.dropMember(m);
      this.prepareRebalance();
      this.maybeCompleteJoin();
    }, Math.max(this.rebalanceTimeout(), 1000));
    this.syncTimer.unref();
  }

  /** Each member votes for its first protocol that every member supports; the most votes wins. */
  private selectProtocol(): string {
    const all = [...this.members.values()];
    const candidates = all[0].protocols.map((p) => p.name).filter((n) => all.every((m) => m.protocols.some((p) => p.name === n)));
    const votes = new Map<string, number>();
    for (const m of all) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    const leader = this.members.get(this.leaderId!)!;
    let best = candidates[0];
    for (const c of leader.protocols.map((p) => p.name).filter((n) => candidates.includes(n))) {
      if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    }
    return best;
  }

  private memberList(): JoinResult['members'] {
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(this.protocolName) }));
  }

  // ---- SyncGroup, Heartbeat, LeaveGroup ----------------------------------------------------

  sync(memberId: string, generationId: number, assignments: Array<{ memberId: string; assignment: Buffer }>,
    protocolType: string | null, protocolName: string | null): Promise<SyncResult> | SyncResult {
    const error = (errorCode: ErrorCode): SyncResult => ({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });
    const member = this.members.get(memberId);
    if (!member) return error(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generationId !== this.generationId) return error(ErrorCode.ILLEGAL_GENERATION);
    if ((protocolType !== null && protocolType !== this.protocolType) || (protocolName !== null && protocolName !== this.protocolName)) {
      return error(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    this.touch(member);
    switch (this.state) {
      case 'PreparingRebalance':
        return error(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'CompletingRebalance': {
        this.synced.add(memberId);
        const result = new Promise<SyncResult>((resolve) => { member.awaitingSync = resolve; });
        if (memberId === this.leaderId) {
          const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of this.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY;
          this.state = 'Stable';
          if (this.syncTimer) clearTimeout(this.syncTimer);
          this.syncTimer = null;
          for (const m of this.members.values()) {
            const resolve = m.awaitingSync;
            m.awaitingSync = null;
            resolve?.({ errorCode: ErrorCode.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: m.assignment });
          }
        }
        return result;
      }
      case 'Stable':
        return { errorCode: ErrorCode.NONE, protocolType: this.protocolType, protocolName: this.protocolName, assignment: member.assignment };
      default:
        return error(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  heartbeat(memberId: string, generationId: number): ErrorCode {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.touch(member);
    return this.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Removes a member (by id, or by group instance id when the id is empty). */
  leave(memberId: string, groupInstanceId: string | null = null): ErrorCode {
    if (memberId !== '' && this.pending.has(memberId)) {
      clearTimeout(this.pending.get(memberId)!);
      this.pending.delete(memberId);
      this.maybeCompleteJoin();
      return ErrorCode.NONE;
    }
    const member = memberId !== '' ? this.members.get(memberId)
      : [...this.members.values()].find((m) => groupInstanceId !== null && m.groupInstanceId === groupInstanceId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(member, ErrorCode.UNKNOWN_MEMBER_ID);
    return ErrorCode.NONE;
  }

  /** Whether an OffsetCommit from (member, generation) is accepted now (Kafka's rules). */
  commitError(memberId: string, generationId: number): ErrorCode {
    if (this.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generationId < 0 && this.state === 'Empty') return ErrorCode.NONE; // offsets-only use of the group
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (this.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    this.touch(member);
    return ErrorCode.NONE;
  }

  describeMembers(): Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }> {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
      metadata: m.metadataFor(this.protocolName), assignment: this.state === 'Stable' ? m.assignment : EMPTY,
    }));
  }

  /** Ends the group (deleted, or the adapter stops): held requests are answered, timers cleared. */
  shutdown(errorCode: ErrorCode): void {
    this.clearTimers();
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const m of this.members.values()) {
      if (m.sessionTimer) clearTimeout(m.sessionTimer);
      m.awaitingJoin?.(this.joinError(errorCode, m.memberId));
      m.awaitingSync?.({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });
      m.awaitingJoin = null;
      m.awaitingSync = null;
    }
    this.members.clear();
    this.state = 'Dead';
  }

  // ---- internals -------------------------------------------------------------------------

  /** Restarts the member's session timer (any request from it proves it alive). */
  private touch(member: GroupMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => this.sessionExpired(member), member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private sessionExpired(member: GroupMember): void {
    member.sessionTimer = null;
    if (this.members.get(member.memberId) !== member) return;
    if (member.awaitingJoin || member.awaitingSync) {
      this.touch(member); // a held JoinGroup or SyncGroup keeps the member alive
      return;
    }
    this.removeMember(member, ErrorCode.UNKNOWN_MEMBER_ID);
  }

  private removeMember(member: GroupMember, errorCode: ErrorCode): void {
    this.dropMember(member);
    member.awaitingJoin?.(this.joinError(errorCode, member.memberId));
    member.awaitingJoin = null;
    member.awaitingSync?.({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });
    member.awaitingSync = null;
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance();
    this.maybeCompleteJoin();
  }

  private dropMember(member: GroupMember): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    this.members.delete(member.memberId);
    this.synced.delete(member.memberId);
    if (this.leaderId === member.memberId) this.leaderId = this.members.keys().next().value ?? null;
  }

  private failPendingSyncs(errorCode: ErrorCode): void {
    for (const m of this.members.values()) {
      m.assignment = EMPTY;
      const resolve = m.awaitingSync;
      m.awaitingSync = null;
      resolve?.({ errorCode, protocolType: null, protocolName: null, assignment: EMPTY });
    }
  }

  private clearTimers(): void {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.joinTimer = null;
    this.syncTimer = null;
  }
}

function protocolsEqual(a: MemberProtocol[], b: MemberProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata));
}
