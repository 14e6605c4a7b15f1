// Writing a file so that a failed write never leaves a half file where a good one was: the
// bytes go to a temporary file beside the target (same directory, so the rename stays on one
// file system), are flushed to disk, and only then renamed over the target, which POSIX does
// atomically. On any failure the temporary file is removed and the target is untouched.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

/** The temporary name writeFileAtomic uses for `path` in this process. */
export function temporaryPath(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

/** Writes bytes to path through a temporary file and a rename; throws an Error naming path on failure. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = temporaryPath(path);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
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
}
