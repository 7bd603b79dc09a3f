/**
 * ns-mount [options] [--] [program [args...]]: a new mount namespace, with util-linux's
 * --propagation/--mount-proc/--root/--wd, bubblewrap's ordered filesystem steps, --rootfs
 * (pivot_root) and --persist KIND=FILE.
 */
import {
  defaultProgram, exitLike, failAndExit, normalizeGetopt, parseKind, programArgs, runToCompletion, usageError, yargsBase,
  type Step,
} from 'ns-core';
import { mountNs, parsePropagation, persist, type FsOp, type PersistRequest } from './index';

/** getopt_long rules for the util-linux-style options (the bwrap-style ones are split off first). */
const GETOPT = {
  short: {},
  optional: new Set(['mount-proc']),
  required: new Set(['propagation', 'rootfs', 'root', 'wd', 'persist']),
};

/**
 * bubblewrap's filesystem options: each takes this many separate words, and all of them run
 * in command-line order, which yargs does not keep across different options.
 */
const FS_OPTIONS: Readonly<Record<string, { args: readonly string[]; describe: string }>> = {
  'bind': { args: ['SRC', 'DEST'], describe: 'bind-mount SRC (and what is mounted below it) on DEST' },
  'ro-bind': { args: ['SRC', 'DEST'], describe: 'like --bind, read-only throughout' },
  'tmpfs': { args: ['DEST'], describe: 'mount a new tmpfs on DEST' },
  'size': { args: ['BYTES'], describe: 'size limit of the next --tmpfs' },
  'perms': { args: ['MODE'], describe: 'octal mode of the next --tmpfs or --dir' },
  'proc': { args: ['DEST'], describe: 'mount a new proc on DEST' },
  'sysfs': { args: ['DEST'], describe: 'mount a read-only sysfs on DEST' },
  'dev': { args: ['DEST'], describe: 'mount a minimal /dev on DEST (null, zero, full, random, urandom, tty, pts, shm)' },
  'dir': { args: ['DEST'], describe: 'create directory DEST' },
  'symlink': { args: ['TARGET', 'DEST'], describe: 'create symlink DEST pointing to TARGET' },
  'overlay': { args: ['LOWER[:LOWER...]', 'UPPER', 'WORK', 'DEST'], describe: 'mount an overlayfs on DEST' },
  'remount-ro': { args: ['DEST'], describe: 'remount what is mounted on DEST read-only' },
};
const MODIFIERS = new Set(['size', 'perms']);

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
 * Takes the bwrap-style options out of argv (up to the program), in order, and returns the
 * rest for yargs. As bwrap: --size and --perms modify the very next option, which must be one
 * that uses them.
 */
export function splitFsOptions(argv: readonly string[]): { ops: FsOp[]; rest: string[] } {
  const ops: FsOp[] = [];
  const rest: string[] = [];
  let size: number | undefined;
  let perms: number | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--' || !word.startsWith('-') || word === '-') break;
    const name = word.startsWith('--') ? word.slice(2).split('=')[0]! : '';
    const spec = FS_OPTIONS[name];
    if (!MODIFIERS.has(name)) {
      if (size !== undefined && name !== 'tmpfs') throw usageError('--size must be followed by --tmpfs');
      if (perms !== undefined && name !== 'tmpfs' && name !== 'dir') throw usageError('--perms must be followed by --tmpfs or --dir');
    }
    if (!spec) {
      rest.push(word);
      if (GETOPT.required.has(name) && !word.includes('=') && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    if (word.includes('=')) throw usageError(`--${name}: give ${spec.args.join(' ')} as separate words, not after '='`);
    const args = argv.slice(i + 1, i + 1 + spec.args.length);
    if (args.length < spec.args.length) throw usageError(`--${name}: needs ${spec.args.join(' ')}`);
    i += spec.args.length;
    const [a, b, c, d] = args as [string, string, string, string];
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
    }
  }
  if (size !== undefined) throw usageError('--size must be followed by --tmpfs');
  if (perms !== undefined) throw usageError('--perms must be followed by --tmpfs or --dir');
  return { ops, rest: [...rest, ...argv.slice(i)] };
}

function parsePersist(value: string): PersistRequest {
  const eq = value.indexOf('=');
  const kind = eq > 0 ? parseKind(value.slice(0, eq)) : undefined;
  if (!kind || eq === value.length - 1) throw usageError(`--persist: expected KIND=FILE, got '${value}'`);
  return { kind, file: value.slice(eq + 1) };
}

function lastOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export async function main(argv: readonly string[]): Promise<void> {
  let split: ReturnType<typeof splitFsOptions>;
  try {
    split = splitFsOptions(argv);
  } catch (e) {
    failAndExit('ns-mount', e);
  }
  let cli = yargsBase('ns-mount', normalizeGetopt(split.rest, GETOPT))
    .usage('Usage:\n ns-mount [options] [--] [<program> [<argument>...]]\n\n'
      + 'Run a program in a new mount namespace. Filesystem options run in the order given;\n'
      + 'with --rootfs their DEST is inside the new root.')
    .option('propagation', { type: 'string', describe: 'private|slave|shared|unchanged: propagation of / inside (default private)' })
    .option('mount-proc', { type: 'string', describe: 'mount a new proc at DIR (default /proc); give DIR as --mount-proc=DIR' })
    .option('rootfs', { type: 'string', describe: 'pivot_root into DIR: nothing of the host tree stays reachable' })
    .option('root', { type: 'string', describe: 'chroot into DIR' })
    .option('wd', { type: 'string', describe: 'working directory DIR' })
    .option('persist', { type: 'string', array: true, describe: 'KIND=FILE: bind the namespace of KIND onto FILE' });
  for (const [name, spec] of Object.entries(FS_OPTIONS)) {
    cli = cli.option(name, { type: 'string', group: 'Filesystem steps:', describe: `${spec.args.join(' ')}: ${spec.describe}` });
  }
  const parsed = cli.parseSync();
  try {
    const propagation = lastOf(parsed.propagation);
    const mountProc = lastOf(parsed.mountProc);
    const rootfs = lastOf(parsed.rootfs);
    const root = lastOf(parsed.root);
    const wd = lastOf(parsed.wd);
    const steps: Step[] = [mountNs({
      ops: split.ops,
      ...(propagation !== undefined ? { propagation: parsePropagation(propagation) } : {}),
      // A bare --mount-proc arrives as '' and means /proc.
      ...(mountProc !== undefined ? { mountProc: mountProc || true } : {}),
      ...(rootfs !== undefined ? { rootfs } : {}),
      ...(root !== undefined ? { root } : {}),
      ...(wd !== undefined ? { wd } : {}),
    })];
    const persisting = parsed.persist?.length ? persist(parsed.persist.map(String).map(parsePersist)) : undefined;
    if (persisting) steps.push(persisting);
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps }, { onStart: () => persisting?.commit() }));
  } catch (e) {
    failAndExit('ns-mount', e);
  }
}
