/**
 * `ip netns ...` (ip/ipnetns.c): named network namespaces under /run/netns, with ip's words,
 * messages and exit codes; the work is done by the library (src/netns.ts, verbs/nsid.ts).
 */
import { closeSync, existsSync, mkdirSync, openSync, read, statSync, unlinkSync } from 'node:fs';
import * as sys from 'ns-core/sys';
import { NsError } from 'ns-core/errors';
import { spawn } from 'ns-core/exec/spawn';
import { exitLike } from 'ns-core/cli';
import {
  NETNS_RUN_DIR, netnsAdd, netnsAttach, netnsDelete, netnsExec, netnsList, netnsNames, netnsPids,
} from '../netns';
import { nsidGet, nsidList, nsidOf, nsidSet } from '../verbs/nsid';
import { getInteger, matches } from './args';
import { isKernelError, kernelMessage, writeOut, type IpContext } from './context';
import { IpExit } from './errors';
import { strerror } from './strerror';

const NETNS_USAGE = `Usage:	ip netns list
	ip netns add NAME
	ip netns attach NAME PID
	ip netns set NAME NETNSID
	ip [-all] netns delete [NAME]
	ip netns identify [PID]
	ip netns pids NAME
	ip [-all] netns exec [NAME] cmd ...
	ip netns monitor
	ip netns list-id [target-nsid POSITIVE-INT] [nsid POSITIVE-INT]
NETNSID := auto | POSITIVE-INT
`;

function usage(): never {
  throw new IpExit(255, NETNS_USAGE);
}

/** A failure of a command (ip's `return -1`): the message and exit 1. */
function fail(text: string): never {
  throw new IpExit(1, text);
}

function errnoOf(e: unknown): number {
  if (e instanceof NsError) return -e.errno;
  const n = (e as NodeJS.ErrnoException).errno;
  return typeof n === 'number' ? Math.abs(n) : 5;
}

/** invalid_name() (ipnetns.c): empty, longer than NAME_MAX, a '/', "." or "..". */
function invalidName(name: string): boolean {
  return name === '' || Buffer.byteLength(name) > 255 || name.includes('/') || name === '.' || name === '..';
}

/** netnsNames(), or undefined where /run/netns cannot be read (ip then says so, or lists nothing). */
function names(): string[] | undefined {
  try {
    return netnsNames();
  } catch {
    return undefined;
  }
}

/** netns_list(): "NAME (id: N)" per name, or [{"name":..,"id":..}] with -j. */
function list(ctx: IpContext): number {
  const p = ctx.p;
  // No directory, or one we may not read: ip prints nothing, not even "[]".
  if (!existsSync(NETNS_RUN_DIR) || names() === undefined) return 0;
  const entries = netnsList(ctx.rtnl);
  p.newJsonObj();
  for (const n of entries) {
    p.openObject();
    p.string('any', 'name', '%s', n.name);
    if (n.id !== undefined) p.number('any', 'id', ' (id: %d)', n.id);
    p.text('\n');
    p.closeObject();
  }
  p.deleteJsonObj();
  return 0;
}

/** The ids of the names under /run/netns in this namespace: id -> first name (netns_map_init()). */
function nsidNames(ctx: IpContext): Map<number, string> {
  const map = new Map<number, string>();
  for (const n of names() ?? []) {
    const id = idOfName(ctx, n);
    if (id !== undefined && !map.has(id)) map.set(id, n);
  }
  return map;
}

function idOfName(ctx: IpContext, name: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(`${NETNS_RUN_DIR}/${name}`, 'r');
  } catch {
    return undefined;
  }
  try {
    return nsidOf(ctx.rtnl.socket, fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** print_nsid(): "nsid N [current-nsid M] (iproute2 netns name: NAME)". */
function printNsid(ctx: IpContext, map: Map<number, string>, nsid: number, current: number | undefined): void {
  const p = ctx.p;
  p.openObject();
  if (nsid < 0) p.text('nsid unassigned ');
  else p.number('any', 'nsid', 'nsid %d ', nsid);
  if (current !== undefined) {
    if (current < 0) p.text('current-nsid unassigned ');
    else p.number('any', 'current-nsid', 'current-nsid %d ', current);
  }
  const key = current ?? nsid;
  const cached = map.get(key);
  if (cached !== undefined) {
    p.string('any', 'name', '(iproute2 netns name: %s)', cached);
    map.delete(key);
  } else {
    // Not in the cache: look the id up among the names again (netns_get_name()).
    const found = (names() ?? []).find((n) => idOfName(ctx, n) === nsid);
    if (found !== undefined) {
      p.string('any', 'name', '(iproute2 netns name: %s)', found);
      map.set(nsid, found);
    }
  }
  p.text('\n');
  p.closeObject();
}

function listId(ctx: IpContext, words: readonly string[]): number {
  let target = -1;
  let nsid = -1;
  const map = nsidNames(ctx);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w !== 'target-nsid' && w !== 'nsid') usage();
    if ((w === 'target-nsid' ? target : nsid) >= 0) {
      throw new IpExit(255, `Error: duplicate "${w}": "${w}" is the second value.\n`);
    }
    const v = words[++i];
    if (v === undefined) throw new IpExit(255, 'Command line is not complete. Try option "help"\n');
    const n = getInteger(v);
    if (n === undefined) throw new IpExit(255, `Error: argument "${v}" is wrong: "${w}" value is invalid\n`);
    if (n < 0) throw new IpExit(255, `Error: argument "${words[i + 1] ?? '(null)'}" is wrong: "${w}" value should be >= 0\n`);
    if (w === 'target-nsid') target = n;
    else nsid = n;
  }
  const p = ctx.p;
  const filter = target >= 0 ? { targetNsid: target } : {};
  if (nsid >= 0) {
    let entry;
    try {
      entry = nsidGet(ctx.rtnl.socket, nsid, filter);
    } catch (e) {
      if (isKernelError(e)) throw new IpExit(2, kernelMessage(e));
      throw e;
    }
    if (!entry) return 0;
    p.newJsonObj();
    printNsid(ctx, map, entry.nsid, entry.currentNsid);
    p.deleteJsonObj();
    return 0;
  }
  let entries;
  try {
    entries = nsidList(ctx.rtnl.socket, filter);
  } catch (e) {
    if (isKernelError(e)) throw new IpExit(1, `${kernelMessage(e)}Dump terminated\n`, true);
    throw e;
  }
  p.newJsonObj();
  for (const e of entries) printNsid(ctx, map, e.nsid, e.currentNsid);
  p.deleteJsonObj();
  return 0;
}

/** The words of an NsError from netnsAdd/netnsAttach, as ip's netns_add() prints them. */
function addFailure(e: unknown, path: string, proc: string): never {
  if (!(e instanceof NsError)) throw e;
  const msg = strerror(-e.errno);
  switch (e.syscall) {
    case 'mkdir': fail(`mkdir ${NETNS_RUN_DIR} failed: ${msg}\n`);
    // falls through (fail never returns)
    case 'open': fail(`Cannot create namespace file "${path}": ${msg}\n`);
    // falls through
    case 'unshare': fail(`Failed to create a new network namespace "${path.slice(NETNS_RUN_DIR.length + 1)}": ${msg}\n`);
    // falls through
    case 'mount':
      if (e.dest === path) fail(`Bind ${proc} -> ${path} failed: ${msg}\n`);
      fail(`mount --make-shared ${NETNS_RUN_DIR} failed: ${msg}\n`);
    // falls through
    default: fail(`${e.message}\n`);
  }
}

async function add(words: readonly string[]): Promise<number> {
  const name = words[0];
  if (name === undefined) fail('No netns name specified\n');
  const path = `${NETNS_RUN_DIR}/${name}`;
  try {
    await netnsAdd(name);
  } catch (e) {
    addFailure(e, path, '/proc/self/ns/net');
  }
  return 0;
}

function attach(words: readonly string[]): number {
  if (words.length < 2) fail('No netns name and PID specified\n');
  const [name, pidText] = words as [string, string];
  const pid = getInteger(pidText);
  if (pid === undefined || pid === 0) fail(`Invalid PID: ${pidText}\n`);
  const path = `${NETNS_RUN_DIR}/${name}`;
  try {
    netnsAttach(name, pid);
  } catch (e) {
    // A negative pid names no /proc entry: the bind fails as ip's does.
    if (e instanceof NsError && e.code === 'EUSAGE') fail(`Bind /proc/${pid}/ns/net -> ${path} failed: ${strerror(2)}\n`);
    addFailure(e, path, `/proc/${pid}/ns/net`);
  }
  return 0;
}

/** on_netns_del(): detach the mount (errors ignored, as ip does) and remove the file. */
function deleteOne(name: string): boolean {
  const path = `${NETNS_RUN_DIR}/${name}`;
  try {
    netnsDelete(name);
    return true;
  } catch (e) {
    if (e instanceof NsError && (e.syscall === 'stat' || e.syscall === 'unlink')) {
      writeOut(2, `Cannot remove namespace file "${path}": ${strerror(-e.errno)}\n`);
      return false;
    }
    if (e instanceof NsError && e.syscall === 'umount2') {
      // ip ignores a failed umount and removes the file anyway.
      try {
        unlinkSync(path);
        return true;
      } catch (u) {
        writeOut(2, `Cannot remove namespace file "${path}": ${strerror(errnoOf(u))}\n`);
        return false;
      }
    }
    throw e;
  }
}

function del(ctx: IpContext, words: readonly string[]): number {
  if (ctx.g.all) {
    // netns_foreach(): stops at the first failure, and succeeds all the same.
    for (const n of names() ?? []) if (!deleteOne(n)) break;
    return 0;
  }
  const name = words[0];
  if (name === undefined) fail('No netns name specified\n');
  ctx.flush();
  if (!deleteOne(name)) throw new IpExit(1, '');
  return 0;
}

function isPid(text: string): boolean {
  return /^[0-9]*$/.test(text);
}

/** netns_identify(): the last name bound to the process's namespace, or an empty line. */
function identify(ctx: IpContext, words: readonly string[]): number {
  if (words.length > 1) fail('extra arguments specified\n');
  const pid = words[0];
  if (pid !== undefined && !isPid(pid)) fail(`Specified string '${pid}' is not a pid\n`);
  // Under -n NAME ip has switched itself into that namespace: "self" is NAME's.
  const target = pid === undefined && ctx.g.netns !== undefined ? `${NETNS_RUN_DIR}/${ctx.g.netns}` : `/proc/${pid ?? 'self'}/ns/net`;
  let st;
  try {
    st = statSync(target);
  } catch (e) {
    fail(`Cannot open network namespace: ${strerror(errnoOf(e))}\n`);
  }
  const list = names();
  if (list === undefined) fail(`Failed to open directory ${NETNS_RUN_DIR}:${strerror(13)}\n`);
  let found = '';
  for (const n of list) {
    try {
      const s = statSync(`${NETNS_RUN_DIR}/${n}`);
      if (s.dev === st.dev && s.ino === st.ino) found = n;
    } catch {
      // gone while we looked
    }
  }
  ctx.p.text(`${found}\n`);
  return 0;
}

function pids(ctx: IpContext, words: readonly string[]): number {
  if (words.length < 1) fail('No netns name specified\n');
  if (words.length > 1) fail('extra arguments specified\n');
  let list: number[];
  try {
    list = netnsPids(words[0]!);
  } catch (e) {
    fail(`Cannot open network namespace: ${strerror(errnoOf(e))}\n`);
  }
  for (const pid of list) ctx.p.text(`${pid}\n`);
  return 0;
}

function set(ctx: IpContext, words: readonly string[]): number {
  if (words.length < 1) fail('No netns name specified\n');
  if (words.length < 2) fail('No nsid specified\n');
  const [name, id] = words as [string, string];
  let nsid = -1;
  if (id !== 'auto') {
    const n = getInteger(id);
    if (n === undefined) throw new IpExit(255, `Error: argument "${id}" is wrong: Invalid "netnsid" value\n`);
    if (n < 0) throw new IpExit(255, `Error: argument "${id}" is wrong: "netnsid" value should be >= 0\n`);
    nsid = n;
  }
  let fd: number;
  try {
    fd = openSync(`${NETNS_RUN_DIR}/${name}`, 'r');
  } catch (e) {
    fail(`Cannot open network namespace "${name}": ${strerror(errnoOf(e))}\n`);
  }
  try {
    nsidSet(ctx.rtnl.socket, fd, nsid);
  } catch (e) {
    if (isKernelError(e)) throw new IpExit(2, kernelMessage(e));
    throw e;
  } finally {
    closeSync(fd);
  }
  return 0;
}

/** netns_monitor(): "add NAME" / "delete NAME" for each file made or removed in /run/netns (inotify). */
async function monitor(): Promise<number> {
  let fd: number;
  try {
    fd = sys.inotifyInit();
  } catch (e) {
    fail(`inotify_init failed: ${strerror(errnoOf(e))}\n`);
  }
  try {
    mkdirSync(NETNS_RUN_DIR, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(`mkdir ${NETNS_RUN_DIR} failed: ${strerror(errnoOf(e))}\n`);
  }
  try {
    sys.inotifyAddWatch(fd, NETNS_RUN_DIR, sys.IN.CREATE | sys.IN.DELETE);
  } catch (e) {
    fail(`inotify_add_watch failed: ${strerror(errnoOf(e))}\n`);
  }
  const buf = Buffer.alloc(4096);
  const readEvents = () => new Promise<number>((resolve, reject) => {
    // A threadpool thread waits in read(2); the main thread stays free for signals.
    read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
  for (;;) {
    let len: number;
    try {
      len = await readEvents();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINTR' || (e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      fail(`read failed: ${strerror(errnoOf(e))}\n`);
    }
    // struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }
    let out = '';
    for (let off = 0; off + 16 <= len;) {
      const mask = buf.readUInt32LE(off + 4);
      const nameLen = buf.readUInt32LE(off + 12);
      const raw = buf.subarray(off + 16, off + 16 + nameLen);
      const nul = raw.indexOf(0);
      const name = raw.subarray(0, nul < 0 ? raw.length : nul).toString();
      if (mask & sys.IN.CREATE) out += `add ${name}\n`;
      if (mask & sys.IN.DELETE) out += `delete ${name}\n`;
      off += 16 + nameLen;
    }
    // Each event as it happens (ip leaves it to stdio's buffering).
    writeOut(1, out);
  }
}

/** The program's exit as ip's cmd_exec() reports it; "exec of ..." when it could not start. */
async function runIn(ctx: IpContext, name: string, argv: readonly string[], fork: boolean): Promise<number> {
  let pieces;
  try {
    pieces = netnsExec(name);
  } catch (e) {
    const code = e instanceof NsError ? -e.errno : 2;
    if (e instanceof NsError && e.code === 'EINVAL') {
      writeOut(2, `setting the network namespace "${name}" failed: ${strerror(22)}\n`);
    } else {
      writeOut(2, `Cannot open network namespace "${name}": ${strerror(code)}\n`);
    }
    return -1;
  }
  const { join, step } = pieces;
  ctx.flush();
  try {
    const child = await spawn(argv, { join: [join], steps: [step] });
    join.close();
    const status = await child.exited;
    // A program killed by a signal: ip (waitpid, WIFEXITED false) exits 1 when it forked;
    // without a fork the shell sees the signal itself, as it would for an exec'd program.
    if (status.signal) {
      if (fork) return 1;
      exitLike(status);
    }
    return status.code ?? 1;
  } catch (e) {
    if (e instanceof NsError && e.syscall === 'execve') {
      writeOut(2, `exec of "${argv[0]}" failed: ${strerror(-e.errno)}\n`);
      return 1;
    }
    if (e instanceof NsError) {
      writeOut(2, `${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    join.close();
  }
}

async function exec(ctx: IpContext, words: readonly string[]): Promise<number> {
  const all = ctx.g.all;
  if (words.length < 1 && !all) fail('No netns name specified\n');
  if ((words.length < 2 && !all) || (words.length < 1 && all)) fail('No command specified\n');
  if (all) {
    // netns_foreach(): each namespace in turn, "\nnetns: NAME\n" first; ip ends with 0.
    for (const n of names() ?? []) {
      ctx.p.text(`\nnetns: ${n}\n`);
      await runIn(ctx, n, words, true);
    }
    return 0;
  }
  const [name, ...argv] = words as [string, ...string[]];
  const r = await runIn(ctx, name, argv, ctx.g.batch !== undefined);
  // A failed switch makes ip return -1 from do_cmd: exit 255.
  if (r < 0) throw new IpExit(255, '', false);
  return r;
}

/** do_netns(). */
export async function doNetns(ctx: IpContext, words: readonly string[]): Promise<number> {
  const [cmd, ...rest] = words;
  if (cmd === undefined) return list(ctx);
  if (!ctx.g.all && words.length > 1 && invalidName(words[1]!)) throw new IpExit(255, `Invalid netns name "${words[1]}"\n`);
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return list(ctx);
  if (matches(cmd, 'list-id')) return listId(ctx, rest);
  if (matches(cmd, 'help')) usage();
  if (matches(cmd, 'add')) return add(rest);
  if (matches(cmd, 'set')) return set(ctx, rest);
  if (matches(cmd, 'delete')) return del(ctx, rest);
  if (matches(cmd, 'identify')) return identify(ctx, rest);
  if (matches(cmd, 'pids')) return pids(ctx, rest);
  if (matches(cmd, 'exec')) return exec(ctx, rest);
  if (matches(cmd, 'monitor')) return monitor();
  if (matches(cmd, 'attach')) return attach(rest);
  throw new IpExit(255, `Command "${cmd}" is unknown, try "ip netns help".\n`);
}
