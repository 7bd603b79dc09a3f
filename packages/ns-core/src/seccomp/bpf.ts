/**
 * Classic BPF as seccomp runs it (linux/filter.h, Documentation/networking/filter.rst): an
 * assembler from instructions with symbolic, forward-only jump targets to the kernel's
 * struct sock_filter array.
 *
 * A conditional jump's offsets (jt, jf) are 8 bits: it reaches at most 255 instructions ahead.
 * `ja` has a 32-bit offset. Layout therefore runs backwards from the last instruction, where
 * every target's distance is already known; a conditional jump whose target is too far gets a
 * trampoline placed right after it: a copy of the target when that is a single `ret` (as fast
 * as the original), else a `ja` to it. Each trampoline becomes another landing site of its
 * target, so the jumps above it reuse it while it is in reach.
 */
import { usageError } from '../errors';

export const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS: A = *(u32 *)(seccomp_data + k)
  ALU_AND_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  JA: 0x05, // BPF_JMP | BPF_JA
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  JSET_K: 0x45,
  RET_K: 0x06, // BPF_RET | BPF_K
} as const;

/** BPF_MAXINSNS (linux/bpf_common.h): the kernel refuses longer programs with EINVAL. */
export const BPF_MAXINSNS = 4096;
/** Largest forward distance of a conditional jump (u8 jt/jf). */
const MAX_COND_JUMP = 255;

export type Label = string;

export type Item =
  | { readonly kind: 'label'; readonly name: Label }
  | { readonly kind: 'stmt'; readonly code: number; readonly k: number }
  | { readonly kind: 'jump'; readonly code: number; readonly k: number; readonly jt: Label; readonly jf: Label }
  | { readonly kind: 'ja'; readonly target: Label }
  | { readonly kind: 'ret'; readonly k: number };

export interface Insn {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** 8 bytes per instruction, host (little-endian) order, as struct sock_filter. */
export function encodeProgram(insns: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    buf.writeUInt16LE(ins.code, i * 8);
    buf.writeUInt8(ins.jt, i * 8 + 2);
    buf.writeUInt8(ins.jf, i * 8 + 3);
    buf.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return buf;
}

export function decodeProgram(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let off = 0; off + 8 <= buf.length; off += 8) {
    out.push({ code: buf.readUInt16LE(off), jt: buf.readUInt8(off + 2), jf: buf.readUInt8(off + 3), k: buf.readUInt32LE(off + 4) });
  }
  return out;
}

/**
 * Resolves labels into offsets. Jumps go forward only (seccomp's verifier refuses loops), so
 * every label must be defined after every jump to it.
 * @throws NsError EUSAGE if a label is missing or the program exceeds BPF_MAXINSNS.
 */
export function assemble(items: readonly Item[]): Insn[] {
  // Built back to front: rev[i] is the instruction with i instructions after it.
  const rev: Insn[] = [];
  /** Landing sites per label, as reverse indices; the last one is the nearest to what comes next. */
  const landings = new Map<Label, number[]>();
  /** The `ret` value a label stands for, when its first instruction is a ret: copies may replace jumps. */
  const retOf = new Map<Label, number>();
  let lastRet: number | undefined;

  const sitesOf = (label: Label): number[] => {
    const sites = landings.get(label);
    if (!sites) throw new Error(`bpf: jump to undefined or backward label ${label}`);
    return sites;
  };
  const nearest = (label: Label): number => sitesOf(label).at(-1)!;
  // A `ja` reaches anything: it goes to the label itself, never through another trampoline.
  const original = (label: Label): number => sitesOf(label)[0]!;
  const emit = (ins: Insn): number => {
    rev.push(ins);
    return rev.length - 1;
  };

  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    switch (item.kind) {
      case 'label': {
        if (rev.length === 0) throw new Error(`bpf: label ${item.name} at the end of the program`);
        const sites = landings.get(item.name) ?? [];
        sites.push(rev.length - 1);
        landings.set(item.name, sites);
        if (lastRet !== undefined) retOf.set(item.name, lastRet);
        continue;
      }
      case 'stmt':
        emit({ code: item.code, jt: 0, jf: 0, k: item.k });
        break;
      case 'ret':
        emit({ code: BPF.RET_K, jt: 0, jf: 0, k: item.k });
        lastRet = item.k;
        continue;
      case 'ja': {
        const at = rev.length;
        emit({ code: BPF.JA, jt: 0, jf: 0, k: at - original(item.target) - 1 });
        break;
      }
      case 'jump': {
        // Trampolines sit right after the jump: jf's first (farthest), then jt's.
        const targets: Label[] = [item.jf, item.jt];
        const offsets: number[] = [0, 0];
        const far = targets.map((t) => nearest(t));
        let tramps = 0;
        for (;;) {
          const at = rev.length + tramps; // where the jump itself will land in rev
          const needs = far.map((site) => at - site - 1 > MAX_COND_JUMP);
          const count = needs.filter(Boolean).length;
          if (count === tramps) break;
          tramps = count;
        }
        const at = rev.length + tramps;
        for (let t = 0; t < 2; t++) {
          const target = targets[t]!;
          if (at - far[t]! - 1 <= MAX_COND_JUMP) {
            offsets[t] = at - far[t]! - 1;
            continue;
          }
          const ret = retOf.get(target);
          const site = ret !== undefined
            ? emit({ code: BPF.RET_K, jt: 0, jf: 0, k: ret })
            : emit({ code: BPF.JA, jt: 0, jf: 0, k: rev.length - original(target) - 1 });
          landings.get(target)!.push(site);
          offsets[t] = at - site - 1;
        }
        emit({ code: item.code, jt: offsets[1]!, jf: offsets[0]!, k: item.k });
        break;
      }
    }
    lastRet = undefined;
  }
  if (rev.length > BPF_MAXINSNS) {
    throw usageError(`seccomp profile: the filter needs ${rev.length} BPF instructions, the kernel takes at most ${BPF_MAXINSNS}`);
  }
  return rev.reverse();
}
