/**
 * `junction consumer-groups`: kafka-consumer-groups.sh. --list, --describe (offsets and lag by
 * default, or --members / --state), --delete, and --reset-offsets (--dry-run prints the plan,
 * --execute commits it; the group must have no running members, as Kafka requires).
 * Tables use Kafka's column layout (`%-15s`-style columns widened to the longest value).
 */
import type { Admin, GroupDescription } from 'kafkajs';
import { bootstrapOf, collect, integer, newCommand, oneAction, parseArgs } from './args.js';
import { CliError, UsageError } from './errors.js';
import { kafkaClient, kafkaFailure, readProperties } from './kafka/client.js';
import { commitWithoutMembership, findCoordinator } from './kafka/raw-request.js';
import { err, out } from './output.js';
import { resetPlan, type ResetSpec } from './offset-reset.js';
import { row } from './table.js';

const ACTIONS = ['list', 'describe', 'delete', 'resetOffsets'] as const;

interface GroupsOptions {
  bootstrapServer?: string;
  commandConfig?: string;
  group?: string[];
  allGroups?: boolean;
  topic?: string[];
  allTopics?: boolean;
  list?: boolean;
  describe?: boolean;
  delete?: boolean;
  resetOffsets?: boolean;
  members?: boolean;
  state?: boolean;
  offsets?: boolean;
  verbose?: boolean;
  dryRun?: boolean;
  execute?: boolean;
  toEarliest?: boolean;
  toLatest?: boolean;
  toCurrent?: boolean;
  toOffset?: number;
  toDatetime?: string;
  byDuration?: string;
  shiftBy?: number;
}

export async function consumerGroupsCommand(argv: string[]): Promise<number> {
  const cmd = newCommand('consumer-groups', 'List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups.sh).')
    .option('--bootstrap-server <host:port,...>', 'the Kafka listener(s) to connect to (required)')
    .option('--command-config <file>', 'client properties file (security.protocol, sasl.mechanism, sasl.jaas.config)')
    .option('--list', 'list all consumer groups')
    .option('--describe', 'describe groups: offsets and lag (default), --members or --state')
    .option('--delete', 'delete groups (they must have no members)')
    .option('--reset-offsets', 'reset the committed offsets of a group (with --dry-run or --execute)')
    .option('--group <id>', 'the group (repeatable)', collect)
    .option('--all-groups', 'every group (with --describe, --delete, --reset-offsets)')
    .option('--topic <topic[:p,p]>', 'with --reset-offsets: a topic, optionally with partitions (repeatable)', collect)
    .option('--all-topics', 'with --reset-offsets: every topic the group has offsets for')
    .option('--members', 'with --describe: the members')
    .option('--state', 'with --describe: coordinator, assignment strategy, state, member count')
    .option('--offsets', 'with --describe: offsets and lag (the default)')
    .option('--verbose', 'with --describe --members: each member\'s assignment')
    .option('--to-earliest', 'reset to the earliest offset')
    .option('--to-latest', 'reset to the latest offset')
    .option('--to-current', 'reset to the committed offset')
    .option('--to-offset <n>', 'reset to this offset (kept within the partition)', integer(0))
    .option('--to-datetime <YYYY-MM-DDTHH:mm:SS.sss>', 'reset to the first offset at or after this time (local time unless it says Z or +hh:mm)')
    .option('--by-duration <PnDTnHnMnS>', 'reset to the first offset at or after this long ago')
    .option('--shift-by <n>', 'move the committed offset by n (negative goes back)', integer(Number.MIN_SAFE_INTEGER))
    .option('--dry-run', 'with --reset-offsets: only print the new offsets (the default)')
    .option('--execute', 'with --reset-offsets: commit the new offsets')
    .option('--timeout <ms>', 'accepted for compatibility', integer(0));
  if (!parseArgs(cmd, argv)) return 0;
  const o = cmd.opts<GroupsOptions>();
  const action = oneAction(o, ACTIONS, 'consumer-groups');
  const brokers = bootstrapOf(o, 'consumer-groups');
  if (action !== 'list' && !o.group?.length && !o.allGroups) throw new UsageError(`junction consumer-groups: --${action === 'resetOffsets' ? 'reset-offsets' : action} needs --group or --all-groups`);
  const kafka = await kafkaClient({ brokers, clientId: 'junction-consumer-groups', properties: readProperties(o.commandConfig) });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const groups = action === 'list' ? [] : o.allGroups ? (await admin.listGroups()).groups.map((g) => g.groupId).sort() : o.group!;
    switch (action) {
      case 'list':
        out((await admin.listGroups()).groups.map((g) => g.groupId).sort().join('\n'), true);
        return 0;
      case 'describe': return await describe(admin, groups, o, brokers);
      case 'delete': return await remove(admin, groups);
      case 'resetOffsets': return await reset(admin, groups, o, brokers);
    }
  } catch (e) {
    throw kafkaFailure(e, brokers, 'Error');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

interface Row { group: string; topic: string; partition: string; current: string; end: string; lag: string; consumerId: string; host: string; clientId: string }

async function describeOne(admin: Admin, groupId: string): Promise<GroupDescription> {
  const { groups: [g] } = await admin.describeGroups([groupId]);
  return g;
}

/** Kafka's notes about a group's state; false when there is nothing to print for it. */
function stateNote(g: GroupDescription): boolean {
  if (g.state === 'Dead') throw new CliError(`Error: Consumer group '${g.groupId}' does not exist.`);
  if (g.state === 'Empty') err(`\nConsumer group '${g.groupId}' has no active members.`);
  if (g.state === 'PreparingRebalance' || g.state === 'CompletingRebalance') err(`\nWarning: Consumer group '${g.groupId}' is rebalancing.`);
  return true;
}

async function assignments(g: GroupDescription): Promise<Map<string, { memberId: string; host: string; clientId: string }>> {
  const { AssignerProtocol } = await import('kafkajs');
  const owners = new Map<string, { memberId: string; host: string; clientId: string }>();
  if (g.protocolType !== 'consumer') return owners;
  for (const m of g.members) {
    const a = m.memberAssignment?.length ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    for (const [topic, partitions] of Object.entries(a?.assignment ?? {})) {
      for (const p of partitions) owners.set(`${topic}\0${p}`, { memberId: m.memberId, host: m.clientHost, clientId: m.clientId });
    }
  }
  return owners;
}

async function offsetRows(admin: Admin, g: GroupDescription): Promise<Row[]> {
  const owners = await assignments(g);
  const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__'));
  const committed = topics.length ? await admin.fetchOffsets({ groupId: g.groupId, topics }) : [];
  const keys = new Map<string, { topic: string; partition: number; offset: string | null }>();
  for (const t of committed) {
    for (const p of t.partitions) if (Number(p.offset) >= 0) keys.set(`${t.topic}\0${p.partition}`, { topic: t.topic, partition: p.partition, offset: p.offset });
  }
  for (const k of owners.keys()) {
    if (!keys.has(k)) {
      const [topic, partition] = k.split('\0');
      keys.set(k, { topic, partition: Number(partition), offset: null });
    }
  }
  const ends = new Map<string, Map<number, string>>();
  for (const topic of new Set([...keys.values()].map((k) => k.topic))) {
    ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high])));
  }
  const rows: Row[] = [...keys.entries()]
    .sort(([, a], [, b]) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map(([k, v]) => {
      const owner = owners.get(k);
      const end = ends.get(v.topic)?.get(v.partition);
      return {
        group: g.groupId, topic: v.topic, partition: String(v.partition),
        current: v.offset ?? '-', end: end ?? '-',
        lag: v.offset !== null && end !== undefined ? String(Math.max(0, Number(BigInt(end) - BigInt(v.offset)))) : '-',
        consumerId: owner?.memberId ?? '-', host: owner?.host ?? '-', clientId: owner?.clientId ?? '-',
      };
    });
  // Members without partitions still show, as Kafka shows them.
  const owning = new Set([...owners.values()].map((x) => x.memberId));
  for (const m of g.members) {
    if (!owning.has(m.memberId)) rows.push({ group: g.groupId, topic: '-', partition: '-', current: '-', end: '-', lag: '-', consumerId: m.memberId, host: m.clientHost, clientId: m.clientId });
  }
  return rows;
}

async function describe(admin: Admin, groups: string[], o: GroupsOptions, brokers: string[]): Promise<number> {
  const view = o.members ? 'members' : o.state ? 'state' : 'offsets';
  if ([o.members, o.state, o.offsets].filter(Boolean).length > 1) throw new UsageError('junction consumer-groups: only one of --members, --state, --offsets');
  for (const groupId of groups) {
    const g = await describeOne(admin, groupId);
    if (view === 'state') {
      stateNote(g);
      const coordinator = await coordinatorOf(admin, brokers[0], groupId);
      // Kafka 3's layout, as printed: the first column is as wide as the coordinator's.
      const widths = [Math.max(25, coordinator.length), 25, 20, 15, 0];
      out(`\n${row(['GROUP', 'COORDINATOR (ID)', 'ASSIGNMENT-STRATEGY', 'STATE', '#MEMBERS'], widths)}`);
      out(row([groupId, coordinator, g.protocol || '', g.state, String(g.members.length)], widths));
      continue;
    }
    stateNote(g);
    if (view === 'members') {
      const owners = await assignments(g);
      const perMember = new Map<string, Map<string, number[]>>();
      for (const [k, v] of owners) {
        const [topic, p] = k.split('\0');
        const topics = perMember.get(v.memberId) ?? new Map<string, number[]>();
        topics.set(topic, [...(topics.get(topic) ?? []), Number(p)]);
        perMember.set(v.memberId, topics);
      }
      const widths = [Math.max(15, groupId.length), Math.max(15, ...g.members.map((m) => m.memberId.length)), Math.max(15, ...g.members.map((m) => m.clientHost.length)), Math.max(15, ...g.members.map((m) => m.clientId.length)), 15];
      out(`\n${row(['GROUP', 'CONSUMER-ID', 'HOST', 'CLIENT-ID', '#PARTITIONS'], widths)} ${o.verbose ? 'ASSIGNMENT' : ''}`);
      for (const m of g.members) {
        const topics = [...(perMember.get(m.memberId) ?? new Map<string, number[]>())];
        const count = topics.reduce((n, [, ps]) => n + ps.length, 0);
        const assignment = topics.map(([t, ps]) => `${t}(${ps.sort((a, b) => a - b).join(',')})`).sort().join(', ') || '-';
        out(`${row([groupId, m.memberId, m.clientHost, m.clientId, String(count)], widths)} ${o.verbose ? assignment : ''}`);
      }
      continue;
    }
    const rows = await offsetRows(admin, g);
    if (rows.length === 0) continue; // Kafka prints no table for a group with nothing to show
    const widths = [
      Math.max(15, ...rows.map((r) => r.group.length)), Math.max(15, ...rows.map((r) => r.topic.length)), 10, 15, 15, 15,
      Math.max(15, ...rows.map((r) => r.consumerId.length)), Math.max(15, ...rows.map((r) => r.host.length)), 0,
    ];
    out(`\n${row(['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID'], widths)}`);
    for (const r of rows) out(row([r.group, r.topic, r.partition, r.current, r.end, r.lag, r.consumerId, r.host, r.clientId], widths));
  }
  return 0;
}

/** `host:port  (id)` of the group's coordinator (FindCoordinator), as Kafka 3.7+ prints it. */
async function coordinatorOf(admin: Admin, broker: string, groupId: string): Promise<string> {
  const found = await findCoordinator(broker, groupId);
  if (found) return `${found.host}:${found.port}  (${found.nodeId})`;
  const cluster = await admin.describeCluster();
  const b = cluster.brokers.find((x) => x.nodeId === cluster.controller) ?? cluster.brokers[0];
  return b ? `${b.host}:${b.port}  (${b.nodeId})` : '-';
}

async function remove(admin: Admin, groups: string[]): Promise<number> {
  try {
    await admin.deleteGroups(groups);
  } catch (e) {
    const failed = (e as { groups?: Array<{ groupId: string; error?: { type?: string; message?: string } }> }).groups?.filter((g) => g.error);
    if (failed?.length) {
      throw new CliError(`Error: Deletion of some consumer groups failed: ${failed.map((g) => `group '${g.groupId}' could not be deleted due to: ${g.error?.type ?? g.error?.message}`).join('; ')}`);
    }
    throw e;
  }
  out(`Deletion of requested consumer groups (${groups.map((g) => `'${g}'`).join(', ')}) was successful.`);
  return 0;
}

async function reset(admin: Admin, groups: string[], o: GroupsOptions, brokers: string[]): Promise<number> {
  const specs: Array<[boolean, () => ResetSpec]> = [
    [o.toEarliest === true, () => ({ kind: 'earliest' })],
    [o.toLatest === true, () => ({ kind: 'latest' })],
    [o.toCurrent === true, () => ({ kind: 'current' })],
    [o.toOffset !== undefined, () => ({ kind: 'offset', offset: o.toOffset ?? 0 })],
    [o.toDatetime !== undefined, () => ({ kind: 'time', at: parseDatetime(o.toDatetime) })],
    [o.byDuration !== undefined, () => ({ kind: 'time', at: Date.now() - parseDuration(o.byDuration) })],
    [o.shiftBy !== undefined, () => ({ kind: 'shift', by: o.shiftBy ?? 0 })],
  ];
  const chosen = specs.filter(([on]) => on);
  if (chosen.length !== 1) throw new UsageError('junction consumer-groups: --reset-offsets needs exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --to-datetime, --by-duration, --shift-by');
  const spec = chosen[0][1]();
  if (!o.topic?.length && !o.allTopics) throw new UsageError('junction consumer-groups: --reset-offsets needs --topic or --all-topics');
  if (o.dryRun && o.execute) throw new UsageError('junction consumer-groups: --dry-run and --execute cannot be used together');
  if (!o.dryRun && !o.execute) {
    err('WARN: No action will be performed as the --execute option is missing. Add --dry-run to keep this behaviour without the warning, or --execute to reset the offsets.');
  }
  const format = [30, 30, 10, 15];
  let header = false;
  for (const groupId of groups) {
    const g = await describeOne(admin, groupId);
    if (g.state !== 'Empty' && g.state !== 'Dead') {
      throw new CliError(`Error: Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${g.state}.`);
    }
    const plan = await resetPlan(admin, groupId, o.allTopics ? null : o.topic!, spec);
    if (!header && plan.length) {
      out(`\n${row(['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], format)}`);
      header = true;
    }
    for (const p of plan) out(row([groupId, p.topic, String(p.partition), p.offset], format));
    if (o.execute) {
      const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
      for (const p of plan) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { partition: p.partition, offset: p.offset }]);
      for (const [topic, partitions] of byTopic) {
        if (!(await commitWithoutMembership(brokers[0], groupId, topic, partitions))) await admin.setOffsets({ groupId, topic, partitions });
      }
    }
  }
  return 0;
}

function parseDatetime(s: string | undefined): number {
  const t = Date.parse(s ?? '');
  if (Number.isNaN(t)) throw new UsageError(`junction consumer-groups: --to-datetime: expected YYYY-MM-DDTHH:mm:SS.sss, got "${s}"`);
  return t;
}

function parseDuration(s: string | undefined): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(s ?? '');
  if (!m || s === 'P' || s === 'PT') throw new UsageError(`junction consumer-groups: --by-duration: expected PnDTnHnMnS, got "${s}"`);
  return ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000 + Number(m[4] ?? 0) * 1000;
}
