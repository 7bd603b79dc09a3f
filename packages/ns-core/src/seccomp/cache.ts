/**
 * compileCached: compileSeccomp by content. A runner puts every container under the same few
 * profiles, and compiling nstools' default one costs ~6-9 ms here, more than the whole spawn of
 * the container; the program only changes with the resolved profile, the options that shape it,
 * the arch and the compiler itself.
 *
 * - In memory: what this process compiled (a library starting container after container).
 * - On disk, with `dir`: one file per filter, holding the key with the program (a file is
 *   used only if its key is this one: the name's hash may collide), the key including what
 *   identifies the compiler as built (a new build never reads an older one's programs); written
 *   aside and renamed into place, so that a reader sees a whole file or none (each CLI run is a
 *   new process). The name's hash is ours (nameOf), not node:crypto's, whose load alone (~2 ms)
 *   would cost a CLI about what the cache saves it. The directory must be the caller's alone (0700, ours): a program read from it
 *   is loaded into containers as it is.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeAll } from '../bytes';
import { NsError } from '../errors';
import { hostArch, type HostArch } from './arch';
import { compileSeccomp, type CompiledSeccomp, type CompileOptions } from './compile';
import { isConstantProfile, resolveProfile, type LinuxSeccomp, type SeccompProfile } from './profile';

export interface SeccompCacheOptions {
  /** A directory of the caller's own (created 0700 if missing; its parent must exist). */
  readonly dir?: string;
}

/** Filters kept per process; more distinct profiles than this in one process are rare. */
const MEMORY_ENTRIES = 16;
const memory = new Map<string, CompiledSeccomp>();

/**
 * What compileSeccomp(profile, options) returns, from the caches when the same filter was
 * compiled before (each caller gets its own copy of the program).
 * @throws NsError EUSAGE for a profile the compiler refuses (never cached); EPERM for a `dir`
 *   that is not the caller's alone; the errno of a failed read or write in `dir`.
 */
export function compileCached(profile: SeccompProfile | LinuxSeccomp, options: CompileOptions = {}, cache: SeccompCacheOptions = {}): CompiledSeccomp {
  // A constant profile (the default) is known by identity and the options: the key below
  // resolves and writes out the whole profile, ~0.2 ms a container for a library caller.
  const constant = isConstantProfile(profile) ? `${JSON.stringify(options, distinctValues)}\0${cache.dir ?? ''}` : undefined;
  const known = constant !== undefined ? constantFilters.get(profile)?.get(constant) : undefined;
  if (known) return { ...known, program: Buffer.from(known.program) };
  const host = options.arch ?? hostArch();
  // Resolved first (includes/excludes by capability, arch and kernel): the key is what the
  // compiler sees, and resolving a resolved profile again changes nothing.
  const spec = resolveProfile(profile as SeccompProfile, { ...options, arch: host });
  const shaping = { arch: host, ...(options.newSyscalls !== undefined ? { newSyscalls: options.newSyscalls } : {}) };
  const key = JSON.stringify([host, options.newSyscalls ?? 'enosys', spec], distinctValues);
  const disk = cache.dir !== undefined ? { key: `${compilerId()}\n${key}`, dir: ownDir(cache.dir) } : undefined;
  const file = disk ? join(disk.dir, `${nameOf(disk.key)}.json`) : undefined;
  let compiled = memory.get(key);
  if (!compiled) {
    compiled = (file !== undefined ? readEntry(file, disk!.key, host) : undefined) ?? compileSeccomp(spec, shaping);
    if (memory.size >= MEMORY_ENTRIES) memory.delete(memory.keys().next().value!);
    memory.set(key, compiled);
  }
  if (file !== undefined && !onDisk.has(file)) writeEntry(file, disk!.key, compiled);
  if (constant !== undefined) {
    const byOptions = constantFilters.get(profile) ?? new Map<string, CompiledSeccomp>();
    if (byOptions.size >= MEMORY_ENTRIES) byOptions.clear();
    constantFilters.set(profile, byOptions.set(constant, compiled));
  }
  return { ...compiled, program: Buffer.from(compiled.program) };
}

/** What compileCached made of constant profiles, by the options and cache directory. */
const constantFilters = new WeakMap<object, Map<string, CompiledSeccomp>>();

/**
 * JSON that tells apart what the compiler tells apart: a string '5', a bigint 5n and a number 5
 * are different keys, and so are NaN and null (JSON.stringify would write both as null).
 */
function distinctValues(_k: string, v: unknown): unknown {
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'bigint') return `b${v}`;
  if (typeof v === 'number' && !Number.isFinite(v)) return `n${v}`;
  return v;
}

/** Files this process read whole or wrote (no need to write them again). */
const onDisk = new Set<string>();

/**
 * The compiler as built, once per process: a program is only valid for the code that made it.
 * ns-core's version (an installed package: npm gives every file the same mtime) and the size,
 * mtime and inode of each compiled module beside this one (a checkout's builds), which a bundle
 * is built from. Stats, not the modules' contents: hashing those in JS cost a CLI ~3 ms.
 */
let compiler: string | undefined;
const COMPILER_MODULES = ['arch', 'bpf', 'cache', 'compile', 'profile', 'syscall-tables'];
function compilerId(): string {
  if (compiler === undefined) {
    const { version } = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    compiler = [version, ...COMPILER_MODULES.map((m) => {
      const st = statSync(join(__dirname, `${m}.js`));
      return `${m}:${st.size}:${st.mtimeMs}:${st.ino}`;
    })].join(' ');
  }
  return compiler;
}

/**
 * A 64-bit name for `text` (16 hex digits): two murmur3-style 32-bit lanes over its UTF-8 bytes
 * a word at a time (a character at a time cost ~0.5 ms for the default profile's key in code
 * that runs once). Collisions only cost a compile: the file holds the key it was made for.
 */
function nameOf(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const words = new Int32Array(Math.ceil(bytes.length / 4) + 1);
  bytes.copy(new Uint8Array(words.buffer));
  words[words.length - 1] = bytes.length;
  let a = 0x9747b28c;
  let b = 0x3c6ef372;
  for (let i = 0; i < words.length; i++) {
    let k = Math.imul(words[i]!, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    a ^= k;
    a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0;
    b ^= Math.imul(k, 0x85ebca6b);
    b = (Math.imul((b << 11) | (b >>> 21), 9) + 0x52dce729) | 0;
  }
  const mix = (h: number) => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0).toString(16).padStart(8, '0');
  };
  return mix(a) + mix(b);
}

const checkedDirs = new Set<string>();
/** `dir`, made 0700 if missing, and refused unless it is ours and closed to others. */
function ownDir(dir: string): string {
  if (checkedDirs.has(dir)) return dir;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw NsError.from(e, { syscall: 'mkdir', path: dir, step: 'seccomp cache' });
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.geteuid!() || (st.mode & 0o077) !== 0) {
    throw new NsError({ errno: 1, code: 'EPERM', syscall: 'lstat', path: dir,
                        message: `seccomp cache ${dir} must be a directory owned by uid ${process.geteuid!()} with mode 0700` });
  }
  checkedDirs.add(dir);
  return dir;
}

interface Entry extends Omit<CompiledSeccomp, 'program'> {
  readonly key: string;
  readonly program: string;
}

/** A cached filter, or undefined for none yet (or one that does not hold together: compiled and written again). */
function readEntry(file: string, key: string, host: HostArch): CompiledSeccomp | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw NsError.from(e, { syscall: 'open', path: file, step: 'seccomp cache' });
  }
  let entry: Entry;
  try {
    entry = JSON.parse(text) as Entry;
  } catch {
    return undefined;
  }
  const program = typeof entry?.program === 'string' ? Buffer.from(entry.program, 'base64') : undefined;
  if (!program || entry.key !== key || entry.host !== host || !Number.isInteger(entry.instructions) || entry.instructions <= 0 || program.length !== entry.instructions * 8 ||
      !Number.isInteger(entry.flags) || !Array.isArray(entry.architectures) || !Array.isArray(entry.ignoredArchitectures) || !Array.isArray(entry.skipped)) {
    return undefined;
  }
  onDisk.add(file);
  const { key: _key, ...compiled } = entry;
  return { ...compiled, program };
}

function writeEntry(file: string, key: string, compiled: CompiledSeccomp): void {
  const temp = `${file}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w', 0o600);
    writeAll(fd, JSON.stringify({ ...compiled, key, program: compiled.program.toString('base64') }));
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
    pruneOldest(dirname(file));
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // The write's error is the one reported; the temporary file may not exist.
    }
    throw NsError.from(e, { path: temp, step: 'seccomp cache' });
  }
  onDisk.add(file);
}

/** Files a cache directory keeps: every rebuild of the compiler adds one per profile it compiles. */
const DISK_ENTRIES = 64;

/**
 * Beyond DISK_ENTRIES, the least recently written go (run on a write, which a compile preceded).
 * A file another process removed meanwhile is what we wanted.
 */
function pruneOldest(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= DISK_ENTRIES) return;
  const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';
  const byAge = names.flatMap((n) => {
    try {
      return [{ path: join(dir, n), mtime: statSync(join(dir, n)).mtimeMs }];
    } catch (e) {
      if (gone(e)) return [];
      throw e;
    }
  }).sort((x, y) => x.mtime - y.mtime);
  for (const { path } of byAge.slice(0, Math.max(0, byAge.length - DISK_ENTRIES))) {
    try {
      unlinkSync(path);
    } catch (e) {
      if (!gone(e)) throw e;
    }
    onDisk.delete(path);
  }
}
