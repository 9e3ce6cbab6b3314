/**
 * The data directory on disk: bytes of every file under it, and the size and free space of its
 * filesystem (fs.statfs). Read at each scrape; the walk stops at MAX_ENTRIES files so a scrape
 * stays cheap whatever the layout.
 */
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExpositionWriter } from './prometheus-format.js';

const MAX_ENTRIES = 100_000;

export interface DiskFigures {
  storageBytes: number;
  filesystemBytes: number;
  freeBytes: number;
}

export async function readDiskFigures(dataDir: string): Promise<DiskFigures | null> {
  let fs;
  try {
    fs = await statfs(dataDir);
  } catch {
    return null; // not created yet, or gone
  }
  let storageBytes = 0;
  let seen = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > MAX_ENTRIES) return;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) storageBytes += await stat(p).then((s) => s.size, () => 0);
    }
  };
  await walk(dataDir);
  return { storageBytes, filesystemBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
}

export function writeDiskMetrics(w: ExpositionWriter, d: DiskFigures): void {
  w.single('junction_storage_bytes', 'gauge', 'Bytes of the files in the data directory.', d.storageBytes);
  w.single('junction_data_dir_filesystem_bytes', 'gauge', 'Size of the filesystem holding the data directory.', d.filesystemBytes);
  w.single('junction_data_dir_free_bytes', 'gauge', 'Space available to the broker on the filesystem holding the data directory.', d.freeBytes);
}
