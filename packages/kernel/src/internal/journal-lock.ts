/**
 * The file journal's single-writer lock: `<journal>.lock`, holding the owner's pid and host.
 *
 * A lock file always appears with its full content (written to a private temporary file, then
 * hard-linked into place, which fails if the lock exists). A lock whose pid is dead on this host is
 * stale and is taken over, but only under a second, short-lived guard file (`<journal>.lock.takeover`)
 * so that two processes racing for the same stale lock cannot both win. See docs/journal.md.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';

import { KernelError } from '../errors.js';

/** What a lock file holds. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly nonce: string;
  readonly at: string;
}

/** A held lock: release it exactly once, on close. */
export interface JournalLock {
  readonly path: string;
  /** True when a stale lock (dead pid) was found and taken over. */
  readonly tookOver: boolean;
  release(): Promise<void>;
}

const GUARD_ATTEMPTS = 50;
const GUARD_WAIT_MS = 10;

const errorCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

/** Whether `pid` is a live process on this host (EPERM means alive but not ours). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) !== 'ESRCH';
  }
};

const parseOwner = (text: string): LockOwner | undefined => {
  try {
    const v: unknown = JSON.parse(text);
    if (
      typeof v === 'object' &&
      v !== null &&
      'pid' in v &&
      'host' in v &&
      'nonce' in v &&
      'at' in v &&
      Number.isSafeInteger(v.pid) &&
      typeof v.host === 'string' &&
      typeof v.nonce === 'string' &&
      typeof v.at === 'string'
    ) {
      return { pid: v.pid as number, host: v.host, nonce: v.nonce, at: v.at };
    }
  } catch {
    // not JSON: reported as an unreadable lock below
  }
  return undefined;
};

/** Creates `target` atomically with `content`; false when `target` already exists. */
const createExclusive = async (target: string, content: string, nonce: string): Promise<boolean> => {
  const tmp = `${target}.${process.pid}.${nonce}.tmp`;
  await writeFile(tmp, content, { mode: 0o644 });
  try {
    await link(tmp, target);
    return true;
  } catch (e) {
    if (errorCode(e) === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp);
  }
};

const readOwner = async (path: string): Promise<LockOwner | 'missing' | 'unreadable'> => {
  try {
    return parseOwner(await readFile(path, 'utf8')) ?? 'unreadable';
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return 'missing';
    throw e;
  }
};

const locked = (path: string, why: string): KernelError =>
  new KernelError('JOURNAL_LOCKED', `journal lock ${path} ${why}`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A stale lock is one whose owner is a dead pid on this very host; anything else is held. */
const isStale = (owner: LockOwner): boolean => owner.host === hostname() && !isAlive(owner.pid);

/**
 * Takes the single-writer lock for `journalPath`.
 * @throws KernelError JOURNAL_LOCKED when a live process (or one on another host) holds it, or the lock is unreadable.
 */
export async function acquireJournalLock(journalPath: string): Promise<JournalLock> {
  const path = `${journalPath}.lock`;
  const nonce = randomBytes(12).toString('hex');
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce, at: new Date().toISOString() };
  const content = `${JSON.stringify(me)}\n`;
  const held = (tookOver: boolean): JournalLock => ({
    path,
    tookOver,
    async release(): Promise<void> {
      // Remove the lock only while it is still ours (never someone else's after a takeover).
      const owner = await readOwner(path);
      if (typeof owner === 'object' && owner.nonce === nonce) await unlink(path);
    },
  });

  if (await createExclusive(path, content, nonce)) return held(false);

  const owner = await readOwner(path);
  if (owner === 'missing') {
    if (await createExclusive(path, content, nonce)) return held(false);
    throw locked(path, 'is being taken by another process');
  }
  if (owner === 'unreadable') throw locked(path, 'is unreadable; remove it once no writer runs');
  if (!isStale(owner)) throw locked(path, `is held by pid ${owner.pid} on ${owner.host}`);

  // Stale: take it over under the guard, re-checking that it is the same stale lock.
  const guard = `${path}.takeover`;
  let guarded = false;
  for (let i = 0; i < GUARD_ATTEMPTS && !guarded; i++) {
    guarded = await createExclusive(guard, content, nonce);
    if (!guarded) {
      const g = await readOwner(guard);
      if (typeof g === 'object' && isStale(g)) {
        throw locked(path, `takeover guard ${guard} is stale (pid ${g.pid}); remove it once no writer runs`);
      }
      await sleep(GUARD_WAIT_MS);
    }
  }
  if (!guarded) throw locked(path, `takeover guard ${guard} stays held`);
  try {
    const again = await readOwner(path);
    if (typeof again === 'object' && again.nonce === owner.nonce) {
      await unlink(path);
    } else if (again !== 'missing') {
      throw locked(path, 'was taken over by another process');
    }
    if (!(await createExclusive(path, content, nonce)))
      throw locked(path, 'was taken over by another process');
    return held(true);
  } finally {
    await unlink(guard);
  }
}
