/**
 * ns-ipc: a new IPC namespace (System V shared memory, message queues, semaphores, and POSIX
 * message queues), and listing what an existing IPC namespace holds.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as sys from 'ns-core/sys';
import { NsError } from 'ns-core/errors';
import type { Step } from 'ns-core/exec/plan';
import { runInside } from 'ns-core/inside';
import { Namespace } from 'ns-core/namespace';

/** Setup step: the program gets a new, empty IPC namespace. */
export function ipc(): Step {
  return { name: 'ns-ipc', create: ['ipc'] };
}

/** Fields every System V object has in /proc/sysvipc/* (proc(5)). */
export interface SysvObject {
  readonly key: number;
  readonly id: number;
  /** Permission bits (the octal `perms` column). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly cuid: number;
  readonly cgid: number;
  /** Every column of the row by its header name, as numbers. */
  readonly fields: Readonly<Record<string, number>>;
}

export interface SysvSharedMemory extends SysvObject { readonly size: number; readonly nattch: number; readonly cpid: number }
export interface SysvMessageQueue extends SysvObject { readonly cbytes: number; readonly qnum: number }
export interface SysvSemaphoreSet extends SysvObject { readonly nsems: number }

export interface SysvObjects {
  readonly shm: SysvSharedMemory[];
  readonly msg: SysvMessageQueue[];
  readonly sem: SysvSemaphoreSet[];
}

/**
 * Parses a /proc/sysvipc table by its header line, so columns added by newer kernels (rss,
 * swap) are kept rather than misread. `perms` is octal; the id column (shmid/msqid/semid)
 * becomes `id`.
 */
export function parseSysvTable(text: string): SysvObject[] {
  const [header, ...rows] = text.split('\n').filter((l) => l.trim() !== '');
  if (!header) return [];
  const names = header.trim().split(/\s+/);
  return rows.map((row) => {
    const values = row.trim().split(/\s+/);
    if (values.length !== names.length) {
      throw new NsError({ errno: 22, code: 'EINVAL', message: `unexpected /proc/sysvipc row '${row.trim()}' for header '${header.trim()}'` });
    }
    const fields: Record<string, number> = {};
    names.forEach((name, i) => { fields[name] = name === 'perms' ? parseInt(values[i]!, 8) : Number(values[i]); });
    const id = fields['shmid'] ?? fields['msqid'] ?? fields['semid'] ?? NaN;
    return {
      ...fields, key: fields['key']!, id, mode: fields['perms']!, uid: fields['uid']!, gid: fields['gid']!,
      cuid: fields['cuid']!, cgid: fields['cgid']!, fields,
    };
  });
}

function ipcNamespaceOf(target: Namespace | number): Namespace {
  return typeof target === 'number' ? Namespace.ofPid(target, 'ipc') : target;
}

/** Runs fn inside the target's IPC namespace; closes the handle only if we opened it. */
function insideIpc<T>(target: Namespace | number, fn: (ns: Namespace) => T): T {
  const ns = ipcNamespaceOf(target);
  try {
    return fn(ns);
  } finally {
    if (ns !== target) ns.close();
  }
}

/**
 * The System V objects of an IPC namespace (a process's, by pid, or a held handle). The
 * kernel shows /proc/sysvipc/* for the namespace of the thread that opens the file, so the
 * files are read synchronously from inside it, through the host's /proc.
 */
export function listSysvObjects(target: Namespace | number): SysvObjects {
  return insideIpc(target, (ns) => runInside([ns], () => {
    const table = (name: string) => parseSysvTable(readFileSync(`/proc/sysvipc/${name}`, 'utf8'));
    return {
      shm: table('shm') as SysvSharedMemory[],
      msg: table('msg') as SysvMessageQueue[],
      sem: table('sem') as SysvSemaphoreSet[],
    };
  }));
}

/** A POSIX message queue (mq_overview(7)) as its mqueue filesystem shows it. */
export interface MessageQueue {
  /** The name without the leading '/'. */
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of all messages in the queue (QSIZE). */
  readonly bytes: number;
}

/** Where the throwaway mqueue mount goes: any existing directory will do, it is never visible outside. */
function scratchMountPoint(): string {
  return existsSync('/dev/mqueue') ? '/dev/mqueue' : '/tmp';
}

/**
 * POSIX message queues live in an mqueue filesystem, and a mount of it shows the queues of
 * the IPC namespace that mounted it (mq_overview(7)). Without spawning anything: inside the
 * target IPC namespace, we unshare a throwaway mount namespace, make it private so nothing
 * propagates out, mount mqueue there, read it, and switch back; the throwaway namespace and
 * its mount vanish with our last reference. Needs CAP_SYS_ADMIN (root).
 */
export function listMessageQueues(target: Namespace | number): MessageQueue[] {
  return insideIpc(target, (ipcNs) => Namespace.ofPid('self', 'mnt').use((ownMnt) => runInside([ipcNs, ownMnt], () => {
    // runInside restores our mount namespace afterwards, whichever one we are in by then.
    sys.unshare(['mnt']);
    sys.mount(null, '/', null, ['REC', 'PRIVATE']);
    const dir = scratchMountPoint();
    sys.mount('mqueue', dir, 'mqueue', ['NOSUID', 'NODEV', 'NOEXEC']);
    return readdirSync(dir).sort().map((name) => {
      const path = join(dir, name);
      const st = statSync(path);
      const qsize = /QSIZE:(\d+)/.exec(readFileSync(path, 'utf8'));
      return { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, bytes: qsize ? Number(qsize[1]) : 0 };
    });
  })));
}

/** Everything an IPC namespace holds. */
export function listIpcObjects(target: Namespace | number): SysvObjects & { readonly mqueue: MessageQueue[] } {
  return { ...listSysvObjects(target), mqueue: listMessageQueues(target) };
}
