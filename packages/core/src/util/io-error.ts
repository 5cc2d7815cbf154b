import { AirgapError } from '../errors.ts';

const WHY: Record<string, [string, string]> = {
  ENOSPC: ['no space left on the device', 'free some space (or choose another output folder) and run it again'],
  EDQUOT: ['disk quota exceeded', 'free some space or raise the quota, then run it again'],
  EACCES: ['permission denied', 'run as a user that may write there, or choose another path'],
  EROFS: ['the file system is read-only', 'choose a writable path'],
  EIO: ['an I/O error', 'check the disk (dmesg) and run it again'],
};

/** A file-system error as an IO_FAILED user error naming the path; anything else is passed on. */
export function asIoError(err: unknown, action: string, file: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code ? WHY[code] : undefined;
  if (!why) return err;
  return new AirgapError('IO_FAILED', `cannot ${action} ${file}: ${why[0]} (${code})`, { hint: why[1], cause: err });
}
