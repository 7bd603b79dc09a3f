/**
 * ns-mount [options] [--] [program [args...]]: a new mount namespace, with util-linux's
 * --propagation/--mount-proc/--root/--wd, bubblewrap's ordered filesystem steps, --rootfs
 * (pivot_root) and --persist KIND=FILE.
 */
import { usageError } from 'ns-core/errors';
import type { Step } from 'ns-core/exec/plan';
import { kindCommand, parseKind } from 'ns-core/kinds';
import {
  launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec, type OptionSpec, type ParsedArgs,
} from 'ns-core/cli';
import { mount, parsePropagation, persist, type FsOp, type PersistRequest } from './index';

/** bubblewrap's filesystem options: separate words each (never `=value`), run in command-line order. */
const FS_OPTIONS: readonly OptionSpec[] = [
  { long: 'bind', words: ['src', 'dest'], help: 'bind-mount <src> (and what is mounted below it) on <dest>' },
  { long: 'ro-bind', words: ['src', 'dest'], help: 'like --bind, read-only throughout' },
  { long: 'tmpfs', words: ['dest'], help: 'mount a new tmpfs on <dest>' },
  { long: 'size', words: ['bytes'], help: 'size limit of the next --tmpfs' },
  { long: 'perms', words: ['mode'], help: 'octal mode of the next --tmpfs or --dir' },
  { long: 'proc', words: ['dest'], help: 'mount a new proc on <dest>' },
  { long: 'sysfs', words: ['dest'], help: 'mount a read-only sysfs on <dest>' },
  { long: 'dev', words: ['dest'], help: 'mount a minimal /dev on <dest> (null, zero, full, random, urandom, tty, pts, shm)' },
  { long: 'dir', words: ['dest'], help: 'create directory <dest>' },
  { long: 'symlink', words: ['target', 'dest'], help: 'create symlink <dest> pointing to <target>' },
  { long: 'overlay', words: ['lower[:lower...]', 'upper', 'work', 'dest'], help: 'mount an overlayfs on <dest>' },
  { long: 'ro-overlay', words: ['lower:lower[:lower...]', 'dest'], help: 'mount a read-only overlayfs of the lower directories on <dest>' },
  { long: 'userxattr', words: [], help: 'the next overlay reads whiteouts from user.overlay.* xattrs (an overlay in a user namespace)' },
  { long: 'remount-ro', words: ['dest'], help: 'remount what is mounted on <dest> read-only' },
].map((o) => ({ ...o, group: 'Filesystem steps' }));
const MODIFIERS = new Set(['size', 'perms']);
/** Options that qualify the overlay before them (bwrap's style is to qualify the next one; overlayfs's is a mount option). */
const OVERLAY_OPTIONS = new Set(['userxattr']);

export const MOUNT_COMMAND: CommandSpec = {
  ...kindCommand('mnt', ['bwrap(1)']),
  summary: 'Run a program in a new mount namespace. Filesystem options run in the order given;\n'
    + 'with --rootfs their DEST is inside the new root.',
  options: [
    { long: 'propagation', arg: 'required', metavar: 'private|slave|shared|unchanged', help: 'propagation of / inside (default private)',
      complete: ['private', 'slave', 'shared', 'unchanged'] },
    { long: 'mount-proc', arg: 'optional', metavar: '<dir>', help: 'mount a new proc at <dir> (default /proc)', complete: 'dir' },
    { long: 'rootfs', arg: 'required', metavar: '<dir>', help: 'pivot_root into <dir>: nothing of the host tree stays reachable', complete: 'dir' },
    { long: 'root', arg: 'required', metavar: '<dir>', help: 'chroot into <dir>', complete: 'dir' },
    { long: 'wd', arg: 'required', metavar: '<dir>', help: 'working directory <dir>', complete: 'dir' },
    { long: 'persist', arg: 'required', metavar: '<kind>=<file>', help: 'bind the namespace of <kind> onto <file> (repeatable)' },
    ...FS_OPTIONS,
    ...STANDARD_OPTIONS,
  ],
};

function parseSize(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`--size: invalid size '${value}' (a positive number of bytes)`);
  return n;
}

function parsePerms(value: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) throw usageError(`--perms: invalid mode '${value}' (octal, at most 07777)`);
  return parseInt(value, 8);
}

/**
 * The filesystem steps, in command-line order. As bwrap: --size and --perms modify the very
 * next option, which must be one that uses them.
 */
export function fsOps(args: ParsedArgs): FsOp[] {
  const ops: FsOp[] = [];
  let size: number | undefined;
  let perms: number | undefined;
  for (const e of args.events) {
    const name = e.spec.long;
    if (!e.words) continue;
    if (!MODIFIERS.has(name)) {
      if (size !== undefined && name !== 'tmpfs') throw usageError('--size must be followed by --tmpfs');
      if (perms !== undefined && name !== 'tmpfs' && name !== 'dir') throw usageError('--perms must be followed by --tmpfs or --dir');
    }
    const [a, b, c, d] = e.words as [string, string, string, string];
    if (OVERLAY_OPTIONS.has(name)) {
      const last = ops[ops.length - 1];
      if (last?.op !== 'overlay') throw usageError(`--${name} must follow --overlay or --ro-overlay`);
      ops[ops.length - 1] = { ...last, userxattr: true };
      continue;
    }
    switch (name) {
      case 'size': size = parseSize(a); break;
      case 'perms': perms = parsePerms(a); break;
      case 'bind': ops.push({ op: 'bind', source: a, dest: b }); break;
      case 'ro-bind': ops.push({ op: 'bind', source: a, dest: b, readOnly: true }); break;
      case 'tmpfs':
        ops.push({ op: 'tmpfs', dest: a, ...(size !== undefined ? { size } : {}), ...(perms !== undefined ? { perms } : {}) });
        size = perms = undefined;
        break;
      case 'dir':
        ops.push({ op: 'dir', dest: a, ...(perms !== undefined ? { perms } : {}) });
        perms = undefined;
        break;
      case 'proc': case 'sysfs': case 'dev': case 'remount-ro': ops.push({ op: name, dest: a }); break;
      case 'symlink': ops.push({ op: 'symlink', target: a, dest: b }); break;
      case 'overlay': ops.push({ op: 'overlay', lower: a.split(':'), upper: b, work: c, dest: d }); break;
      case 'ro-overlay': ops.push({ op: 'overlay', lower: a.split(':'), dest: b }); break;
    }
  }
  if (size !== undefined) throw usageError('--size must be followed by --tmpfs');
  if (perms !== undefined) throw usageError('--perms must be followed by --tmpfs or --dir');
  return ops;
}

function parsePersist(value: string): PersistRequest {
  const eq = value.indexOf('=');
  const kind = eq > 0 ? parseKind(value.slice(0, eq)) : undefined;
  if (!kind || eq === value.length - 1) throw usageError(`--persist: expected KIND=FILE, got '${value}'`);
  return { kind, file: value.slice(eq + 1) };
}

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(MOUNT_COMMAND, argv, async (args) => {
    const value = (name: string) => args.last(name);
    const propagation = value('propagation');
    const mountProc = value('mount-proc');
    const rootfs = value('rootfs');
    const root = value('root');
    const wd = value('wd');
    const steps: Step[] = [mount({
      ops: fsOps(args),
      ...(propagation !== undefined ? { propagation: parsePropagation(propagation) } : {}),
      // A bare --mount-proc means /proc.
      ...(mountProc !== undefined ? { mountProc: mountProc || true } : {}),
      ...(rootfs !== undefined ? { rootfs } : {}),
      ...(root !== undefined ? { root } : {}),
      ...(wd !== undefined ? { wd } : {}),
    })];
    const persisting = args.has('persist') ? persist(args.all('persist').map(parsePersist)) : undefined;
    if (persisting) steps.push(persisting);
    // Run in place, the exec stage's helper binds the namespaces, for good once the program runs.
    await launch(args.operands, { steps }, { signals: 'program' });
  });
}
