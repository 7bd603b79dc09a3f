/**
 * The seccomp compiler: a profile (LinuxSeccomp, or a docker/podman profile file) to the classic
 * BPF program seccomp(SECCOMP_SET_MODE_FILTER) takes, for this host's architecture.
 *
 * Program shape:
 *   ld arch; one jeq per section; ret <bad arch>          (KILL_PROCESS: see BAD_ARCH_ACTION)
 *   section: ld nr; [x86_64: nr >= X32_SYSCALL_BIT -> x32 section or bad arch]
 *            a binary search over the syscall numbers' intervals (jge), whose leaves are a
 *            shared `ret` or the rule chain of one syscall with argument conditions
 *   chains:  per rule, its conditions on 64-bit arguments as hi/lo word comparisons; the
 *            first rule that holds returns its action, none: the default action
 *   rets:    one `ret` per distinct action, copied next to far jumps by the assembler.
 *
 * Semantics follow libseccomp as runc and crun drive it (both use it for docker and podman):
 *  - the native arch is always filtered; rules apply to every section;
 *  - conditions in one entry are ANDed, but if one argument index appears twice, each condition
 *    is a rule of its own (ORed), as runc does;
 *  - a rule whose action equals the default action is dropped (libseccomp refuses it; runc and
 *    crun skip it);
 *  - a syscall with an unconditional rule takes the first such rule's action, whatever
 *    conditional rules it also has (libseccomp replaces the conditional tree);
 *  - otherwise its rules are tried in profile order, the first that holds wins. libseccomp
 *    agrees whenever the rules that can hold at once share one action (what docker's and
 *    podman's profiles contain); for overlapping rules with different actions it orders by its
 *    internal tree (e.g. a condition on a higher argument index first), which we do not copy;
 *  - on 32-bit ABIs (x86, x32) only an argument's low word is compared, with the value cut to
 *    32 bits, as libseccomp does;
 *  - SCMP_CMP_MASKED_EQ holds when (arg & value) == (valueTwo & value): libseccomp masks the
 *    datum too, so bits of valueTwo outside the mask do not count;
 *  - names this arch lacks are skipped, as runc and crun do; a name no table knows is refused;
 *  - syscalls numbered above all the profile names get ENOSYS unless the default lets them
 *    through, as runc's patch of libseccomp's filter does (CompileOptions.newSyscalls); on
 *    every section compiled, where runc patches only the arches `architectures` lists.
 */
import { usageError } from '../errors';
import { hostArch, planArches, X32_SYSCALL_BIT, type ArchSection, type HostArch } from './arch';
import { assemble, encodeProgram, BPF, type Item, type Label } from './bpf';
import { resolveProfile, type ArgValue, type LinuxSeccomp, type ResolveOptions, type SeccompOperator, type SeccompProfile } from './profile';
import type * as SyscallTables from './syscall-tables';

/** SECCOMP_RET_* (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** SECCOMP_FILTER_FLAG_* the exec stage passes to seccomp(2); NEW_LISTENER is never accepted. */
export const SECCOMP_FILTER_FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

/**
 * What a syscall of an arch the filter does not cover gets. libseccomp's default is KILL_THREAD;
 * a multithreaded program would keep its other threads, so the whole process goes, as the kernel
 * documentation recommends (Documentation/userspace-api/seccomp_filter.rst).
 */
export const BAD_ARCH_ACTION = SECCOMP_RET.KILL_PROCESS;

/** EPERM: the runtime spec's default errnoRet, and runc's for ERRNO and TRACE. */
const EPERM = 1;
/** MAX_ERRNO (include/linux/err.h): the kernel clamps larger SECCOMP_RET_ERRNO data to it. */
const MAX_ERRNO = 4095;

/** struct seccomp_data (linux/seccomp.h): nr, arch, instruction_pointer, args[6], little-endian. */
const DATA_NR = 0;
const DATA_ARCH = 4;
const argLo = (i: number) => 16 + 8 * i;
const argHi = (i: number) => 20 + 8 * i;

export interface CompileOptions extends ResolveOptions {
  /**
   * What syscalls numbered above every syscall the profile names get, per arch: 'enosys' (the
   * default) as runc does, so that libc falls back from a syscall newer than the profile (a
   * profile that refuses by EPERM would otherwise make the fallback fail); 'default' for the
   * default action, as libseccomp alone does. Profiles whose default lets syscalls through
   * (ALLOW, LOG, TRACE) keep it either way.
   */
  readonly newSyscalls?: 'enosys' | 'default';
}

export interface CompiledSeccomp {
  /** struct sock_filter[], ready for seccomp(2). */
  readonly program: Buffer;
  readonly instructions: number;
  /** SECCOMP_FILTER_FLAG_* from the profile's `flags`. */
  readonly flags: number;
  /** SCMP_ARCH_* names compiled, native first. */
  readonly architectures: readonly string[];
  /** Listed arches this host's kernel never presents, left out. */
  readonly ignoredArchitectures: readonly string[];
  /** Names skipped on an arch that lacks them (_llseek on x86_64, arch_prctl on x86...). */
  readonly skipped: readonly { readonly name: string; readonly arch: string }[];
  readonly host: HostArch;
}

interface Condition {
  readonly index: number;
  readonly op: SeccompOperator;
  readonly value: bigint;
  readonly valueTwo: bigint;
}

interface Rule {
  readonly conditions: readonly Condition[];
  readonly action: number;
}

const OPERATORS: readonly SeccompOperator[] = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
];

/**
 * The tables (every architecture's syscall numbers) load when a filter is compiled, not with
 * every CLI that imports ns-core and never compiles one.
 */
let tables: { numbers: typeof SyscallTables.SYSCALL_TABLES; known: ReadonlySet<string> } | undefined;
function syscallTables(): NonNullable<typeof tables> {
  if (!tables) {
    const { OTHER_ARCH_ONLY, SYSCALL_TABLES } = require('./syscall-tables') as typeof SyscallTables;
    tables = { numbers: SYSCALL_TABLES, known: new Set<string>([...Object.values(SYSCALL_TABLES).flatMap((t) => Object.keys(t)), ...OTHER_ARCH_ONLY]) };
  }
  return tables;
}

function errnoField(v: unknown, max: number, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw usageError(`${where}: errnoRet ${JSON.stringify(v)} is not a whole number from 0 to ${max}`);
  }
  return v;
}

/** An action name and errnoRet to its SECCOMP_RET_* value (the runtime spec's rules). */
export function actionValue(action: unknown, errnoRet: unknown, where: string): number {
  const hasErrno = errnoRet !== undefined && errnoRet !== null;
  switch (action) {
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET.ERRNO | (hasErrno ? errnoField(errnoRet, MAX_ERRNO, where) : EPERM)) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET.TRACE | (hasErrno ? errnoField(errnoRet, 0xffff, where) : EPERM)) >>> 0;
    case 'SCMP_ACT_NOTIFY':
      throw usageError(`${where}: SCMP_ACT_NOTIFY is not supported (it needs a seccomp agent listening on listenerPath)`);
    default:
      break;
  }
  const plain: Record<string, number> = {
    SCMP_ACT_KILL: SECCOMP_RET.KILL_THREAD, SCMP_ACT_KILL_THREAD: SECCOMP_RET.KILL_THREAD,
    SCMP_ACT_KILL_PROCESS: SECCOMP_RET.KILL_PROCESS, SCMP_ACT_TRAP: SECCOMP_RET.TRAP,
    SCMP_ACT_ALLOW: SECCOMP_RET.ALLOW, SCMP_ACT_LOG: SECCOMP_RET.LOG,
  };
  if (typeof action !== 'string' || !(action in plain)) throw usageError(`${where}: unknown action ${JSON.stringify(action)}`);
  // The runtime spec: errnoRet on an action that returns no errno MUST fail.
  if (hasErrno) throw usageError(`${where}: errnoRet is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`);
  return plain[action]! >>> 0;
}

function u64(v: unknown, where: string): bigint {
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw usageError(`${where}: ${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)} is not a whole number from 0 to 2^64-1`);
}

function conditionsOf(args: unknown, where: string): Condition[] {
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) throw usageError(`${where}: args: expected a list`);
  return args.map((a: { index?: unknown; op?: unknown; value?: unknown; valueTwo?: unknown } | null, j) => {
    const at = `${where}: args[${j}]`;
    if (typeof a !== 'object' || a === null) throw usageError(`${at}: expected an object`);
    if (typeof a.index !== 'number' || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
      throw usageError(`${at}: index ${JSON.stringify(a.index)} is not an argument number from 0 to 5`);
    }
    if (!OPERATORS.includes(a.op as SeccompOperator)) throw usageError(`${at}: unknown operator ${JSON.stringify(a.op)}`);
    return {
      index: a.index, op: a.op as SeccompOperator,
      value: u64(a.value, `${at}: value`),
      valueTwo: a.valueTwo === undefined || a.valueTwo === null ? 0n : u64(a.valueTwo as ArgValue, `${at}: valueTwo`),
    };
  });
}

/** runc's rule: one index compared twice in an entry makes each comparison a rule of its own. */
function rulesOf(conditions: readonly Condition[], action: number): Rule[] {
  const indices = conditions.map((c) => c.index);
  if (new Set(indices).size === indices.length) return [{ conditions, action }];
  return conditions.map((c) => ({ conditions: [c], action }));
}

function flagsOf(flags: unknown): number {
  if (flags === undefined || flags === null) return 0;
  if (!Array.isArray(flags)) throw usageError('seccomp profile: flags: expected a list');
  let mask = 0;
  flags.forEach((f, i) => {
    const bit = typeof f === 'string' ? SECCOMP_FILTER_FLAGS[f] : undefined;
    if (bit === undefined) {
      throw usageError(`seccomp profile: flags[${i}]: ${JSON.stringify(f)} is not supported` +
        (f === 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' ? ' (it applies to SCMP_ACT_NOTIFY only)' : ''));
    }
    mask |= bit;
  });
  return mask;
}

type Outcome = { readonly ret: number } | { readonly chain: readonly Rule[] };

/** Per syscall number of one section: what it gets, default-action syscalls left out. */
function outcomes(rules: ReadonlyMap<number, Rule[]>, defaultAction: number): Map<number, Outcome> {
  const out = new Map<number, Outcome>();
  for (const [nr, list] of rules) {
    const unconditional = list.find((r) => r.conditions.length === 0);
    if (unconditional) {
      if (unconditional.action !== defaultAction) out.set(nr, { ret: unconditional.action });
      continue;
    }
    out.set(nr, { chain: list });
  }
  return out;
}

interface Interval {
  readonly start: number;
  readonly outcome: Outcome;
  readonly nr?: number;
}

/**
 * The domain [lo, hi] cut into runs of one outcome, neighbours with the same `ret` merged;
 * numbers from `tail.from` on (none of which has rules) get `tail.action`.
 */
function intervals(byNr: ReadonlyMap<number, Outcome>, lo: number, hi: number, defaultAction: number,
                   tail?: { readonly from: number; readonly action: number }): Interval[] {
  const out: Interval[] = [];
  const push = (start: number, outcome: Outcome, nr?: number) => {
    const prev = out.at(-1);
    if (prev && 'ret' in prev.outcome && 'ret' in outcome && prev.outcome.ret === outcome.ret) return;
    out.push({ start, outcome, ...(nr !== undefined ? { nr } : {}) });
  };
  let next = lo;
  for (const nr of [...byNr.keys()].filter((n) => n >= lo && n <= hi).sort((a, b) => a - b)) {
    if (nr > next) push(next, { ret: defaultAction });
    push(nr, byNr.get(nr)!, nr);
    next = nr + 1;
  }
  const tailFrom = tail ? Math.max(tail.from, next) : hi + 1;
  if (next < tailFrom && next <= hi) push(next, { ret: defaultAction });
  if (tail && tailFrom <= hi) push(tailFrom, { ret: tail.action });
  return out;
}

class Emitter {
  readonly items: Item[] = [];
  readonly #rets = new Set<number>();
  #n = 0;

  fresh(prefix: string): Label {
    return `${prefix}.${this.#n++}`;
  }
  ret(value: number): Label {
    this.#rets.add(value >>> 0);
    return `ret.${value >>> 0}`;
  }
  label(name: Label): void {
    this.items.push({ kind: 'label', name });
  }
  ld(offset: number): void {
    this.items.push({ kind: 'stmt', code: BPF.LD_W_ABS, k: offset });
  }
  and(k: number): void {
    this.items.push({ kind: 'stmt', code: BPF.ALU_AND_K, k });
  }
  jump(code: number, k: number, jt: Label, jf: Label): void {
    this.items.push({ kind: 'jump', code, k: k >>> 0, jt, jf });
  }
  /** A jump to a shared `ret` is that `ret` itself. */
  ja(target: Label): void {
    const ret = /^ret\.(\d+)$/.exec(target);
    this.items.push(ret ? { kind: 'ret', k: Number(ret[1]) } : { kind: 'ja', target });
  }
  /** The shared `ret`s go last. */
  finish(): Item[] {
    for (const v of [...this.#rets].sort((a, b) => a - b)) {
      this.items.push({ kind: 'label', name: `ret.${v}` }, { kind: 'ret', k: v });
    }
    return this.items;
  }
}

const lo32 = (v: bigint) => Number(v & 0xffffffffn);
const hi32 = (v: bigint) => Number(v >> 32n);

/** One comparison of the 32-bit word in A with k: to `pass` if it holds, else to `fail`. */
function compareWord(e: Emitter, op: SeccompOperator, k: number, pass: Label, fail: Label): void {
  switch (op) {
    case 'SCMP_CMP_EQ': return e.jump(BPF.JEQ_K, k, pass, fail);
    case 'SCMP_CMP_NE': return e.jump(BPF.JEQ_K, k, fail, pass);
    case 'SCMP_CMP_GT': return e.jump(BPF.JGT_K, k, pass, fail);
    case 'SCMP_CMP_GE': return e.jump(BPF.JGE_K, k, pass, fail);
    case 'SCMP_CMP_LT': return e.jump(BPF.JGE_K, k, fail, pass);
    case 'SCMP_CMP_LE': return e.jump(BPF.JGT_K, k, fail, pass);
    default: throw new Error(`compareWord: ${op}`);
  }
}

function condition32(e: Emitter, c: Condition, pass: Label, fail: Label): void {
  e.ld(argLo(c.index));
  if (c.op === 'SCMP_CMP_MASKED_EQ') {
    const [mask, datum] = [lo32(c.value), lo32(c.valueTwo & c.value)];
    if (datum === 0) return e.jump(BPF.JSET_K, mask, fail, pass);
    e.and(mask);
    return e.jump(BPF.JEQ_K, datum, pass, fail);
  }
  compareWord(e, c.op, lo32(c.value), pass, fail);
}

/** A 64-bit comparison: the high words first; only when they are equal does the low word decide. */
function condition64(e: Emitter, c: Condition, pass: Label, fail: Label): void {
  const low = e.fresh('lo');
  if (c.op === 'SCMP_CMP_MASKED_EQ') {
    const datum = c.valueTwo & c.value;
    const [mh, ml, dh, dl] = [hi32(c.value), lo32(c.value), hi32(datum), lo32(datum)];
    if (mh !== 0 || dh !== 0) {
      e.ld(argHi(c.index));
      if (dh === 0) e.jump(BPF.JSET_K, mh, fail, low);
      else {
        e.and(mh);
        e.jump(BPF.JEQ_K, dh, low, fail);
      }
      e.label(low);
    }
    e.ld(argLo(c.index));
    if (dl === 0) return e.jump(BPF.JSET_K, ml, fail, pass);
    e.and(ml);
    return e.jump(BPF.JEQ_K, dl, pass, fail);
  }
  const [vh, vl] = [hi32(c.value), lo32(c.value)];
  e.ld(argHi(c.index));
  switch (c.op) {
    case 'SCMP_CMP_EQ': e.jump(BPF.JEQ_K, vh, low, fail); break;
    case 'SCMP_CMP_NE': e.jump(BPF.JEQ_K, vh, low, pass); break;
    case 'SCMP_CMP_GT': case 'SCMP_CMP_GE': case 'SCMP_CMP_LT': case 'SCMP_CMP_LE': {
      const greater = c.op === 'SCMP_CMP_GT' || c.op === 'SCMP_CMP_GE' ? pass : fail;
      const less = greater === pass ? fail : pass;
      if (vh === 0) {
        // A high word above 0 decides; otherwise it is 0 and the low word decides.
        e.jump(BPF.JGT_K, 0, greater, low);
      } else {
        const equal = e.fresh('eq');
        e.jump(BPF.JGT_K, vh, greater, equal);
        e.label(equal);
        e.jump(BPF.JEQ_K, vh, low, less);
      }
      break;
    }
    default: throw new Error(`condition64: ${c.op}`);
  }
  e.label(low);
  e.ld(argLo(c.index));
  compareWord(e, c.op, vl, pass, fail);
}

/** A syscall's rules in order: the first whose conditions all hold returns its action. */
function emitChain(e: Emitter, entry: Label, rules: readonly Rule[], bits: 32 | 64, defaultAction: number): void {
  e.label(entry);
  rules.forEach((rule, i) => {
    const last = i === rules.length - 1;
    const nextRule = last ? e.ret(defaultAction) : e.fresh('rule');
    rule.conditions.forEach((c, j) => {
      const pass = j === rule.conditions.length - 1 ? e.ret(rule.action) : e.fresh('cond');
      (bits === 64 ? condition64 : condition32)(e, c, pass, nextRule);
      if (pass.startsWith('cond.')) e.label(pass);
    });
    if (!last) e.label(nextRule);
  });
}

/** A balanced binary search over the intervals (A = nr), starting here. */
function emitTree(e: Emitter, iv: readonly Interval[], leaf: (i: Interval) => Label): void {
  const build = (lo: number, hi: number, self: Label | undefined): void => {
    const mid = (lo + hi + 1) >> 1;
    const left = lo === mid - 1 ? leaf(iv[lo]!) : e.fresh('node');
    const right = mid === hi ? leaf(iv[mid]!) : e.fresh('node');
    if (self) e.label(self);
    e.jump(BPF.JGE_K, iv[mid]!.start, right, left);
    if (lo !== mid - 1) build(lo, mid - 1, left);
    if (mid !== hi) build(mid, hi, right);
  };
  if (iv.length === 1) e.ja(leaf(iv[0]!));
  else build(0, iv.length - 1, undefined);
}

interface SectionRules {
  readonly section: ArchSection;
  readonly rules: Map<number, Rule[]>;
  /** The highest number of a syscall the profile names on this arch, whatever its action. */
  last: number;
}

/** runc's test (patchbpf isAllowAction): a default that lets syscalls run needs no ENOSYS. */
function letsThrough(action: number): boolean {
  return action === SECCOMP_RET.ALLOW || action === SECCOMP_RET.LOG || (action & 0xffff0000) === SECCOMP_RET.TRACE;
}
const ENOSYS_ACTION = (SECCOMP_RET.ERRNO | 38) >>> 0;

/**
 * Compiles a profile for this host (or `options.arch`). docker/podman profile files are
 * resolved first (see resolveProfile), with `options.capabilities` as the bounding set.
 * @throws NsError EUSAGE naming the profile entry, name, argument or flag that is wrong.
 */
export function compileSeccomp(profile: SeccompProfile | LinuxSeccomp, options: CompileOptions = {}): CompiledSeccomp {
  const host = options.arch ?? hostArch();
  const spec = resolveProfile(profile as SeccompProfile, { ...options, arch: host });
  const defaultAction = actionValue(spec.defaultAction, spec.defaultErrnoRet, 'seccomp profile: defaultAction');
  const flags = flagsOf(spec.flags);
  const { sections, ignored } = planArches(spec.architectures ?? undefined, host);
  const perSection: SectionRules[] = sections.map((section) => ({ section, rules: new Map(), last: -1 }));
  const skipped: { name: string; arch: string }[] = [];

  (spec.syscalls ?? []).forEach((call, i) => {
    const names = call.names ?? [];
    const where = `seccomp profile: syscalls[${i}]${names.length ? ` (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''})` : ''}`;
    if (!Array.isArray(names) || names.length === 0) throw usageError(`${where}: names: expected a non-empty list of syscall names`);
    const action = actionValue(call.action, call.errnoRet, where);
    const rules = rulesOf(conditionsOf(call.args, where), action);
    for (const name of names) {
      if (typeof name !== 'string' || !syscallTables().known.has(name)) {
        throw usageError(`${where}: unknown syscall ${JSON.stringify(name)} (in no table: ${Object.keys(syscallTables().numbers).join(', ')})`);
      }
    }
    for (const p of perSection) {
      const numbers = syscallTables().numbers[p.section.table] as Readonly<Record<string, number>>;
      for (const name of names) {
        const nr = numbers[name];
        if (nr === undefined) {
          skipped.push({ name, arch: p.section.name });
          continue;
        }
        p.last = Math.max(p.last, nr);
        if (action === defaultAction) continue;
        const list = p.rules.get(nr) ?? [];
        list.push(...rules);
        p.rules.set(nr, list);
      }
    }
  });

  const e = new Emitter();
  const badArch = e.ret(BAD_ARCH_ACTION);
  const defaultRet = e.ret(defaultAction);
  const byAudit = new Map<number, ArchSection[]>();
  for (const s of sections) byAudit.set(s.auditArch, [...(byAudit.get(s.auditArch) ?? []), s]);
  const entries = [...byAudit.keys()].map((a) => [a, e.fresh('arch')] as const);

  e.ld(DATA_ARCH);
  entries.forEach(([audit, label], i) => {
    const next = i === entries.length - 1 ? badArch : e.fresh('archcheck');
    e.jump(BPF.JEQ_K, audit, label, next);
    if (next !== badArch) e.label(next);
  });

  const chains: [Label, readonly Rule[], 32 | 64][] = [];
  const sectionOf = (name: string) => perSection.find((p) => p.section.name === name);
  const enosys = (options.newSyscalls ?? 'enosys') === 'enosys' && !letsThrough(defaultAction);
  const tree = (p: SectionRules, lo: number, hi: number): void => {
    const tail = enosys && p.last >= 0 ? { from: p.last + 1, action: ENOSYS_ACTION } : undefined;
    const iv = intervals(outcomes(p.rules, defaultAction), lo, hi, defaultAction, tail);
    emitTree(e, iv, (i) => {
      if ('ret' in i.outcome) return e.ret(i.outcome.ret);
      const label = `chain.${p.section.name}.${i.nr}`;
      chains.push([label, i.outcome.chain, p.section.bits]);
      return label;
    });
  };

  for (const [audit, label] of entries) {
    const group = byAudit.get(audit)!;
    e.label(label);
    e.ld(DATA_NR);
    const native = group.find((s) => s.table !== 'x32');
    if (native?.table === 'x86_64') {
      // x32 syscalls come as AUDIT_ARCH_X86_64 with X32_SYSCALL_BIT set (arch/x86/entry).
      // Without an x32 section they are a bad arch, except nr -1, which ptracers use to skip
      // a syscall: as libseccomp, it gets the default action.
      const x32 = sectionOf('SCMP_ARCH_X32');
      const high = e.fresh('x32');
      const low = e.fresh('x86_64');
      e.jump(BPF.JGE_K, X32_SYSCALL_BIT, high, low);
      e.label(low);
      tree(sectionOf('SCMP_ARCH_X86_64')!, 0, X32_SYSCALL_BIT - 1);
      e.label(high);
      if (x32) tree(x32, X32_SYSCALL_BIT, 0xffffffff);
      else e.jump(BPF.JEQ_K, 0xffffffff, defaultRet, badArch);
    } else {
      tree(sectionOf(group[0]!.name)!, 0, 0xffffffff);
    }
  }
  for (const [label, rules, bits] of chains) emitChain(e, label, rules, bits, defaultAction);

  const insns = assemble(e.finish());
  return {
    program: encodeProgram(insns),
    instructions: insns.length,
    flags,
    architectures: sections.map((s) => s.name),
    ignoredArchitectures: ignored,
    skipped,
    host,
  };
}

