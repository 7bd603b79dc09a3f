/**
 * Shared by the seccomp tests: the C fixtures (probe, the libseccomp oracle, a static i386
 * program) built once per run, a classic-BPF interpreter that runs a filter the way the kernel
 * does, and the libseccomp description of a LinuxSeccomp as runc would add its rules.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProgram } from '../src/seccomp/bpf';
import { actionValue } from '../src/seccomp/compile';
import type { LinuxSeccomp, LinuxSyscall } from '../src/seccomp/profile';
import { SYSCALL_TABLES } from '../src/seccomp/syscall-tables';

const FIXTURES = join(__dirname, '../../test/fixtures/seccomp');

let built: { probe: string; scmpExport: string; i386: string; dir: string } | undefined;

function cc(args: string[]): void {
  const r = spawnSync('gcc', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc ${args.join(' ')}: ${r.stderr}`);
}

/** The fixtures, compiled into a temporary directory (gcc, libseccomp-dev, gcc -m32 -nostdlib). */
export function fixtures(): { probe: string; scmpExport: string; i386: string; dir: string } {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'nsx-seccomp-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const probe = join(dir, 'probe');
  const scmpExport = join(dir, 'scmp-export');
  const i386 = join(dir, 'i386-getpid');
  cc(['-O2', '-Wall', '-Wextra', '-Werror', '-o', probe, join(FIXTURES, 'probe.c')]);
  cc(['-O2', '-Wall', '-Wextra', '-Werror', '-o', scmpExport, join(FIXTURES, 'scmp-export.c'), '-lseccomp']);
  cc(['-m32', '-nostdlib', '-static', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-O2', '-Wall', '-Wextra',
      '-Werror', '-o', i386, join(FIXTURES, 'i386-getpid.c')]);
  built = { probe, scmpExport, i386, dir };
  return built;
}

export interface SeccompData {
  readonly nr: number;
  readonly arch: number;
  readonly args?: readonly (number | bigint)[];
}

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;

/**
 * Runs a filter over one struct seccomp_data as the kernel's BPF interpreter does (the subset
 * seccomp programs use: ld abs, and, ja, jeq/jgt/jge/jset k, ret k). Returns the SECCOMP_RET_* value.
 */
const decoded = new WeakMap<Buffer, ReturnType<typeof decodeProgram>>();

export function runFilter(program: Buffer, data: SeccompData): number {
  let insns = decoded.get(program);
  if (!insns) decoded.set(program, (insns = decodeProgram(program)));
  const word = (off: number): number => {
    if (off === 0) return data.nr >>> 0;
    if (off === 4) return data.arch >>> 0;
    if (off >= 16 && off < 64) {
      const v = BigInt(data.args?.[(off - 16) >> 3] ?? 0);
      return Number((off & 4 ? v >> 32n : v) & 0xffffffffn);
    }
    throw new Error(`runFilter: load of offset ${off}`);
  };
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= insns.length; steps++) {
    const ins = insns[pc];
    if (!ins) throw new Error(`runFilter: fell off the program at ${pc}`);
    switch (ins.code) {
      case 0x20: a = word(ins.k); pc++; break;
      case 0x54: a = (a & ins.k) >>> 0; pc++; break;
      case 0x05: pc += 1 + ins.k; break;
      case 0x15: pc += 1 + (a === ins.k ? ins.jt : ins.jf); break;
      case 0x25: pc += 1 + (a > ins.k ? ins.jt : ins.jf); break;
      case 0x35: pc += 1 + (a >= ins.k ? ins.jt : ins.jf); break;
      case 0x45: pc += 1 + ((a & ins.k) !== 0 ? ins.jt : ins.jf); break;
      case 0x06: return ins.k >>> 0;
      default: throw new Error(`runFilter: opcode ${ins.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('runFilter: no ret reached');
}

/** libseccomp's enum scmp_compare. */
const SCMP_OP: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};
const SCMP_ARCH: Record<string, string> = { SCMP_ARCH_X86: 'x86', SCMP_ARCH_X32: 'x32', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_AARCH64: 'aarch64' };

/** A LinuxSeccomp as runc adds it to libseccomp (runc's matchCall), in scmp-export's language. */
export function libseccompDescription(spec: LinuxSeccomp): string {
  const def = actionValue(spec.defaultAction, spec.defaultErrnoRet, 'default');
  const lines = [`default ${def}`, 'badarch 2147483648'];
  if ((spec.syscalls ?? []).length > 32) lines.push('optimize 2');
  for (const a of spec.architectures ?? []) if (SCMP_ARCH[a]) lines.push(`arch ${SCMP_ARCH[a]}`);
  for (const call of spec.syscalls ?? []) {
    const action = actionValue(call.action, call.errnoRet, 'rule');
    if (action === def) continue;
    const args = call.args ?? [];
    const cond = (a: (typeof args)[number]) => `${a.index} ${SCMP_OP[a.op]} ${BigInt(a.value)} ${BigInt(a.valueTwo ?? 0)}`;
    const sameIndex = new Set(args.map((a) => a.index)).size !== args.length;
    const groups = sameIndex ? args.map((a) => [a]) : [args];
    for (const name of call.names) {
      for (const g of groups) lines.push(`rule ${action} ${name} ${g.length}${g.map((a) => ` ${cond(a)}`).join('')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface Oracle {
  /** libseccomp's own filter. */
  readonly program: Buffer;
  /** Names libseccomp did not know (runc skips them). */
  readonly unknown: readonly string[];
  /**
   * What runc loads decides: libseccomp's filter behind runc's stub, which gives ENOSYS to
   * syscalls numbered above every one the profile names on that arch, unless the default
   * action lets syscalls through (runc's patchbpf).
   */
  decide(data: SeccompData): number;
  /** The highest number the profile names on `table`: of names libseccomp knows, or of all. */
  lastNamed(table: keyof typeof SYSCALL_TABLES, all: boolean): number;
}

/** libseccomp's filter for `spec` as runc builds and patches it. */
export function libseccompCompile(spec: LinuxSeccomp): Oracle {
  const r = spawnSync(fixtures().scmpExport, [], { input: libseccompDescription(spec) });
  if (r.status !== 0) throw new Error(`scmp-export failed: ${r.stderr.toString()}`);
  const unknown = [...r.stderr.toString().matchAll(/^skipped (\S+)$/gm)].map((m) => m[1]!);
  const program = r.stdout;
  const def = actionValue(spec.defaultAction, spec.defaultErrnoRet, 'default');
  const allowLike = def === 0x7fff0000 || def === 0x7ffc0000 || (def & 0xffff0000) === 0x7ff00000;
  const listed = new Set<string>(['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64', ...(spec.architectures ?? [])]);
  const last = (table: keyof typeof SYSCALL_TABLES, all = false): number => {
    const t = SYSCALL_TABLES[table] as Record<string, number>;
    const numbers = (spec.syscalls ?? []).flatMap((s) => s.names).filter((n) => all || !unknown.includes(n)).map((n) => t[n] ?? -1);
    return Math.max(-1, ...numbers);
  };
  const lastOf = { x86_64: last('x86_64'), x32: last('x32'), i386: last('i386'), aarch64: last('aarch64') };
  return {
    program, unknown,
    lastNamed: (table, all) => last(table, all),
    decide(data) {
      const table = data.arch === AUDIT_ARCH_I386 ? 'i386' : data.arch === AUDIT_ARCH_AARCH64 ? 'aarch64'
        : (data.nr & 0x40000000) !== 0 ? 'x32' : 'x86_64';
      const arch = { i386: 'SCMP_ARCH_X86', aarch64: 'SCMP_ARCH_AARCH64', x32: 'SCMP_ARCH_X32', x86_64: 'SCMP_ARCH_X86_64' }[table];
      if (!allowLike && listed.has(arch) && lastOf[table] >= 0 && data.nr >>> 0 > lastOf[table]) return 0x50026;
      return runFilter(program, data);
    },
  };
}

let counter = 0;

/** Runs probe ops ("64:NR:a0:..." / "32:NR:...") under `filter` (none: unfiltered); one line each. */
export function probe(filter: Buffer | null, ops: readonly string[], flags = 0): string[] {
  const { probe: bin, dir } = fixtures();
  const args: string[] = [];
  if (filter) {
    const file = join(dir, `filter-${process.pid}-${counter++}.bpf`);
    writeFileSync(file, filter);
    args.push('-f', file, '-F', String(flags));
  }
  const r = spawnSync(bin, [...args, ...ops], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  // Each line is "OP outcome"; only the outcome is compared, and an allowed getppid/getpid
  // returns a pid that differs from run to run.
  return r.stdout.trim().split('\n').map((l) => l.slice(l.indexOf(' ') + 1).replace(/^ret=[1-9]\d* errno=0$/, 'ret>0'));
}

/**
 * 450 rules with arguments over 150 syscalls (those below 300 but exit_group, execve and getppid),
 * each with its own errno: a long program. The rules are EQ 1000, 1010, 1020 on argument 0.
 */
export function longProfile(): LinuxSeccomp {
  const names = Object.entries(SYSCALL_TABLES.x86_64).filter(([n, v]) => v < 300 && !['exit_group', 'execve', 'getppid'].includes(n)).map(([n]) => n).slice(0, 150);
  const syscalls: LinuxSyscall[] = [];
  names.forEach((name, i) => {
    for (let j = 0; j < 3; j++) {
      syscalls.push({ names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: 1 + ((i * 3 + j) % 4000),
                      args: [{ index: 0, value: 1000 + j * 10, op: 'SCMP_CMP_EQ' }] });
    }
  });
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls };
}
