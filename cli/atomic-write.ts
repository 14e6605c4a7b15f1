// Writing a file so that a failed write never leaves a half file where a good one was: the
// bytes go to a temporary file beside the target (same directory, so the rename stays on one
// file system), are flushed to disk, and only then renamed over the target, which POSIX does
// atomically; an fsync of the directory then makes the rename itself durable. On any failure
// the temporary file is removed and the target is untouched. Checkpoints and saved networks
// both write through here.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The temporary name writeFileAtomic uses for `path` in this process. One per process is
 * enough: the write is synchronous, so a process never has two in flight for one path.
 */
export function temporaryPath(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/** Whether a file name is one of writeFileAtomic's temporaries, a leftover of a killed process (and the older name.tmp-PID-TIME-N form). */
export const TEMPORARY_NAME = /\.tmp-\d+(-\d+-\d+)?$/;

/** Writes bytes (or text, as UTF-8) to path through a temporary file and a rename; the Error names path and says it is unchanged. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const tmp = temporaryPath(path);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w', 0o644);
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw new Error(`cannot save ${path}: ${(e as Error).message} (${path} is unchanged)`);
  }
  syncDirectory(dirname(path));
}

function syncDirectory(dir: string): void {
  // Makes the rename durable. Some platforms cannot open a directory for fsync; that is not an error there.
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
