import { lstatSync, realpathSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { EdgeMLError } from './errors.js';

/** The device's shared `/data` volume, bind-mounted into every module (docs/ENGINEERING.md "Data volume"). */
export const DEFAULT_DATA_ROOT = '/data';

export interface DataPaths {
  readonly root: string;
  /** The local SMB/NFS share. Paths in `files` messages are relative to it. */
  readonly share: string;
  readonly inbox: string;
  /** Dead letters: the input plus `<name>.error.json`. */
  readonly failed: string;
  /** Completed inputs when the watcher's afterCompletion is `move`. */
  readonly processed: string;
  /** Transformer outputs named by content id; paths in tensor/artifact messages are relative to `root`. */
  readonly staging: string;
  readonly models: string;
  readonly cloudshare: string;
  /** `state/<module>`: each module's durable state. */
  state(moduleName: string): string;
}

export function dataPaths(root: string): DataPaths {
  const abs = path.resolve(root);
  return Object.freeze({
    root: abs,
    share: path.join(abs, 'share'),
    inbox: path.join(abs, 'share', 'inbox'),
    failed: path.join(abs, 'share', 'failed'),
    processed: path.join(abs, 'share', 'processed'),
    staging: path.join(abs, 'staging'),
    models: path.join(abs, 'models'),
    cloudshare: path.join(abs, 'cloudshare'),
    state: (moduleName: string) => path.join(abs, 'state', moduleName),
  });
}

/** POSIX-style path of `absolute` relative to `root` (what messages carry). */
export function toRelative(root: string, absolute: string): string {
  return path.relative(root, absolute).split(path.sep).join('/');
}

/** The lexical checks of a message-supplied relative path: the absolute path it names below `rootReal`. */
function lexicalInside(rootReal: string, relative: string, root: string): string {
  if (typeof relative !== 'string' || relative.length === 0 || relative.includes('\0')) {
    throw new EdgeMLError('PATH_OUTSIDE_ROOT', `path ${JSON.stringify(relative)} is empty or contains NUL`);
  }
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative)) {
    throw new EdgeMLError('PATH_OUTSIDE_ROOT', `path ${JSON.stringify(relative)} is absolute; a path relative to the root is required`);
  }
  const lexical = path.resolve(rootReal, relative);
  if (!isWithin(rootReal, lexical)) {
    throw new EdgeMLError('PATH_OUTSIDE_ROOT', `path ${JSON.stringify(relative)} leaves ${root}`);
  }
  return lexical;
}

/** Why `realpath` of a path failed, as the error resolveInside throws (`isSymlink`: what lstat says of it). */
function unresolvable(relative: string, err: unknown, isSymlink: boolean | undefined): EdgeMLError {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    // A dangling symlink is an escape attempt or a deleted file; lstat tells which.
    if (isSymlink === true) return new EdgeMLError('PATH_OUTSIDE_ROOT', `path ${JSON.stringify(relative)} is a dangling symlink`, { cause: err });
    return new EdgeMLError('FILE_NOT_FOUND', `file ${JSON.stringify(relative)} does not exist`, { cause: err });
  }
  return new EdgeMLError('FILE_UNREADABLE', `cannot resolve ${JSON.stringify(relative)}`, { cause: err });
}

function checkReal(rootReal: string, real: string, relative: string, root: string): string {
  if (!isWithin(rootReal, real)) {
    throw new EdgeMLError('PATH_OUTSIDE_ROOT', `path ${JSON.stringify(relative)} resolves through a symlink to outside ${root}`);
  }
  return real;
}

/**
 * Resolves a message-supplied relative path inside `root`, refusing traversal (`..`, absolute
 * paths, NUL bytes) lexically and symlink escapes physically. Returns the real absolute path.
 * @throws EdgeMLError PATH_OUTSIDE_ROOT, FILE_NOT_FOUND, FILE_NOT_REGULAR
 */
export async function resolveInside(root: string, relative: string, options: { mustBeFile?: boolean; rootIsReal?: boolean } = {}): Promise<string> {
  // `rootIsReal`: the caller resolved `root` already (a hot path saves one syscall per call).
  const rootReal = options.rootIsReal === true ? root : await realpath(root);
  const lexical = lexicalInside(rootReal, relative, root);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err: unknown) {
    const isSymlink = (err as NodeJS.ErrnoException).code === 'ENOENT' ? (await lstat(lexical).catch(() => undefined))?.isSymbolicLink() : undefined;
    throw unresolvable(relative, err, isSymlink);
  }
  checkReal(rootReal, real, relative, root);
  if (options.mustBeFile === true) {
    const st = await lstat(real);
    if (!st.isFile()) throw new EdgeMLError('FILE_NOT_REGULAR', `path ${JSON.stringify(relative)} is not a regular file`);
  }
  return real;
}

/**
 * resolveInside with synchronous calls, below an already resolved `rootReal`: for a hot path on a
 * local volume, where the thread-pool round trip of each call costs more than the call (the
 * inferencer's intake resolves every tensor path).
 * @throws EdgeMLError PATH_OUTSIDE_ROOT, FILE_NOT_FOUND, FILE_UNREADABLE
 */
export function resolveInsideSync(rootReal: string, relative: string): string {
  const lexical = lexicalInside(rootReal, relative, rootReal);
  let real: string;
  try {
    real = realpathSync.native(lexical);
  } catch (err: unknown) {
    let isSymlink: boolean | undefined;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        isSymlink = lstatSync(lexical).isSymbolicLink();
      } catch {
        isSymlink = undefined; // gone altogether: FILE_NOT_FOUND below
      }
    }
    throw unresolvable(relative, err, isSymlink);
  }
  return checkReal(rootReal, real, relative, rootReal);
}

/** True when `candidate` is `root` itself or below it (both absolute, normalised). */
export function isWithin(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
