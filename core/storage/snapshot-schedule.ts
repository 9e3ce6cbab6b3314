/**
 * When the journal takes its next index snapshot while it runs (`storage.snapshotEveryBytes`,
 * docs/storage.md): once the bytes journaled since the last one reach both that setting and the
 * size of the last snapshot. The first bound keeps the journal a crash restart must replay short;
 * the second keeps the snapshots' own writing at most about the journal's (a snapshot rewrites
 * the whole index, about 15 bytes per queued message, however little changed). A snapshot is also
 * due as soon as compaction deleted the segment the newest one names as its head: that snapshot
 * can no longer be used, and a crash would scan every segment.
 */
export class SnapshotSchedule {
  /** Bytes journaled since the newest snapshot was captured (or since open, for everything a scan read). */
  private since = 0;
  private lastBytes = 0;
  /** Head segment of the newest snapshot on disk; -1 for none. */
  private head = -1;
  private headGone = false;
  /** `since` at which the next one is due (Infinity: never). */
  private dueAt: number;

  /** `everyBytes` 0 (or a journal that does not page, or a machine that cannot snapshot): only at clean close. */
  constructor(private readonly everyBytes: number, private readonly enabled: boolean) {
    this.dueAt = this.threshold();
  }

  private threshold(): number {
    if (!this.enabled || this.everyBytes <= 0) return Infinity;
    if (this.headGone) return 1;
    return Math.max(this.everyBytes, this.lastBytes);
  }

  /** After open: the snapshot loaded (its size and head segment) or none, and the bytes scanned after it. */
  opened(scannedBytes: number, snapshot?: { bytes: number; head: number }): void {
    this.since = scannedBytes;
    this.lastBytes = snapshot?.bytes ?? 0;
    this.head = snapshot?.head ?? -1;
    this.headGone = false;
    this.dueAt = this.threshold();
  }

  /** Counts a group journaled; true when a snapshot is due. */
  journaled(bytes: number): boolean {
    this.since += bytes;
    return this.since >= this.dueAt;
  }

  get due(): boolean {
    return this.since >= this.dueAt;
  }

  /** A snapshot was captured now: counting starts again. */
  captured(): void {
    this.since = 0;
  }

  /** The snapshot captured is on disk. */
  taken(bytes: number, head: number): void {
    this.lastBytes = bytes;
    this.head = head;
    this.headGone = false;
    this.dueAt = this.threshold();
  }

  /** It was not written (abandoned, or an I/O error): the next is due after as many bytes again, not at once. */
  failed(): void {
    this.headGone = false;
    this.dueAt = this.threshold();
  }

  /** Compaction deleted segment `id`. */
  segmentDeleted(id: number): void {
    if (id !== this.head) return;
    this.headGone = true;
    this.dueAt = this.threshold();
  }
}
