/** A consumer group member and the JoinGroup/SyncGroup shapes the group coordinator works with. */
import { ErrorCode } from '../protocol/errors.js';

export interface GroupTimings {
  initialRebalanceDelayMs: number;
}

export interface MemberProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinRequest {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: MemberProtocol[];
  /** JoinGroup v4+: an unknown member must first be given its id (MEMBER_ID_REQUIRED). */
  requireKnownMemberId: boolean;
}

export interface JoinResult {
  errorCode: ErrorCode;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: ErrorCode;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const EMPTY = Buffer.alloc(0);

export class GroupMember {
  assignment: Buffer = EMPTY;
  awaitingJoin: ((r: JoinResult) => void) | null = null;
  awaitingSync: ((r: SyncResult) => void) | null = null;
  sessionTimer: NodeJS.Timeout | null = null;
  constructor(
    readonly memberId: string,
    public groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public protocolType: string,
    public protocols: MemberProtocol[],
  ) {}

  metadataFor(protocol: string | null): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }
}
