#!/usr/bin/env node
// Writes src/seccomp/syscall-tables.ts: syscall numbers by name for x86_64, x32, i386 and
// aarch64, read from the kernel's uapi headers on this machine (linux-libc-dev and the aarch64
// cross headers). `--check` exits 1 if the committed module differs from what it would write;
// `--print` writes the module to stdout instead.
//
// x86 headers are plain `#define __NR_name N` lists (x32: `(__X32_SYSCALL_BIT + N)`). aarch64 uses
// asm-generic/unistd.h, whose numbers depend on the __ARCH_WANT_* switches asm/unistd.h sets and
// on aliases (__NR_fcntl -> __NR3264_fcntl): the preprocessor's own macro dump (-dM) resolves the
// switches, and the aliases are followed here.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'src/seccomp/syscall-tables.ts');
const X32_SYSCALL_BIT = 0x40000000;

const X86_HEADERS = {
  x86_64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
  x32: '/usr/include/x86_64-linux-gnu/asm/unistd_x32.h',
  i386: '/usr/include/x86_64-linux-gnu/asm/unistd_32.h',
};
const AARCH64_HEADER = '/usr/aarch64-linux-gnu/include/asm/unistd.h';

/**
 * Syscalls newer than this machine's headers (Debian 12 ships Linux 6.1's uapi) that the running
 * kernel may have. Since Linux 5.1 every architecture numbers new syscalls alike (the kernel's
 * scripts/syscall.tbl: 424 and up are common), x32 with its bit set; added only where a header
 * lacks the name, so newer headers win. Numbers as in Linux 6.17's syscall_64.tbl.
 */
const SINCE_HEADERS = [
  ['cachestat', 451], ['fchmodat2', 452], ['map_shadow_stack', 453], ['futex_wake', 454],
  ['futex_wait', 455], ['futex_requeue', 456], ['statmount', 457], ['listmount', 458],
  ['lsm_get_self_attr', 459], ['lsm_set_self_attr', 460], ['lsm_list_modules', 461], ['mseal', 462],
  ['setxattrat', 463], ['getxattrat', 464], ['listxattrat', 465], ['removexattrat', 466],
  ['open_tree_attr', 467], ['file_getattr', 468], ['file_setattr', 469],
];

/**
 * Names of syscalls that exist only on architectures without a table here (arm, ppc, s390, mips,
 * riscv, alpha, sparc). docker's and podman's profiles list some of them; a profile naming one is
 * not wrong, it names nothing on this host, so the compiler skips it instead of refusing it.
 */
const OTHER_ARCH_ONLY = [
  'arm_fadvise64_64', 'arm_sync_file_range', 'breakpoint', 'cacheflush', 'set_tls', 'usr26', 'usr32',
  'sync_file_range2', 'swapcontext', 'subpage_prot', 'spu_create', 'spu_run', 'sys_debug_setcontext',
  'multiplexer', 'rtas', 'switch_endian', 'pciconfig_iobase', 'pciconfig_read', 'pciconfig_write',
  's390_guarded_storage', 's390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr', 's390_sthyi',
  'riscv_flush_icache', 'riscv_hwprobe', 'cachectl', 'sysmips', 'atomic_barrier', 'atomic_cmpxchg_32',
  'getpagesize', 'osf_getsysinfo', 'osf_setsysinfo', 'memory_ordering', 'kern_features', 'utrap_install',
  'recv', 'send', 'syscall', 'timerfd',
];

function parseX86(file, x32) {
  const table = {};
  const re = x32 ? /^#define __NR_(\w+) \(__X32_SYSCALL_BIT \+ (\d+)\)$/ : /^#define __NR_(\w+) (\d+)$/;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = re.exec(line.trim());
    if (m) table[m[1]] = Number(m[2]) + (x32 ? X32_SYSCALL_BIT : 0);
  }
  return table;
}

function macroDump(header) {
  // The cross preprocessor knows its sysroot; the host one is told where the headers are.
  const attempts = [
    ['aarch64-linux-gnu-cpp', ['-dM', header]],
    ['cpp', ['-dM', '-nostdinc', '-I', '/usr/aarch64-linux-gnu/include', '-D__aarch64__', '-D__LP64__', header]],
  ];
  for (const [cmd, args] of attempts) {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
  throw new Error('gen-syscall-tables: no C preprocessor (aarch64-linux-gnu-cpp or cpp) found');
}

function parseGeneric(header) {
  const macros = new Map();
  for (const line of macroDump(header).split('\n')) {
    const m = /^#define (__NR\w+) (.+)$/.exec(line.trim());
    if (m) macros.set(m[1], m[2].trim());
  }
  const value = (expr, depth = 0) => {
    if (depth > 8) return undefined;
    const e = expr.replace(/^\((.*)\)$/, '$1').trim();
    if (/^\d+$/.test(e)) return Number(e);
    const sum = /^(\w+) \+ (\d+)$/.exec(e);
    if (sum) {
      const base = macros.has(sum[1]) ? value(macros.get(sum[1]), depth + 1) : undefined;
      return base === undefined ? undefined : base + Number(sum[2]);
    }
    return macros.has(e) ? value(macros.get(e), depth + 1) : undefined;
  };
  const table = {};
  for (const [name, expr] of macros) {
    // __NR3264_* are the 32/64-bit aliases' targets; __NR_syscalls and __NR_arch_specific_syscall
    // are counts and bases, not syscalls.
    if (!name.startsWith('__NR_') || name === '__NR_syscalls' || name === '__NR_arch_specific_syscall') continue;
    const n = value(expr);
    if (n !== undefined) table[name.slice(5)] = n;
  }
  return table;
}

/** x32 lacks map_shadow_stack: syscall_64.tbl first added it as `64`, not `common`. */
const NOT_ON_X32 = ['map_shadow_stack'];

function withNewer(table, offset) {
  const extended = { ...table };
  for (const [name, n] of SINCE_HEADERS) {
    if (offset === X32_SYSCALL_BIT && NOT_ON_X32.includes(name)) continue;
    if (!(name in extended)) extended[name] = n + offset;
  }
  return extended;
}

function sorted(table) {
  return Object.entries(table).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
}

function render(tables) {
  const lines = [
    '/* Generated by scripts/gen-syscall-tables.js from the kernel uapi headers. Do not edit. */',
    '/* eslint-disable */',
    '',
    '/** Syscall numbers by name, per architecture (x32 numbers include __X32_SYSCALL_BIT). */',
    'export const SYSCALL_TABLES = {',
  ];
  for (const [arch, table] of Object.entries(tables)) {
    lines.push(`  ${arch}: {`);
    let line = '   ';
    for (const [name, n] of sorted(table)) {
      const entry = ` ${name}: ${n},`;
      if (line.length + entry.length > 100) {
        lines.push(line);
        line = '   ';
      }
      line += entry;
    }
    if (line.trim()) lines.push(line);
    lines.push('  },');
  }
  lines.push('} as const;', '');
  lines.push('/** Syscalls of architectures with no table here: skipped in a profile, never an error. */');
  lines.push(`export const OTHER_ARCH_ONLY: readonly string[] = ${JSON.stringify(OTHER_ARCH_ONLY)};`, '');
  return lines.join('\n');
}

function generate() {
  return render({
    x86_64: withNewer(parseX86(X86_HEADERS.x86_64, false), 0),
    x32: withNewer(parseX86(X86_HEADERS.x32, true), X32_SYSCALL_BIT),
    i386: withNewer(parseX86(X86_HEADERS.i386, false), 0),
    aarch64: withNewer(parseGeneric(AARCH64_HEADER), 0),
  });
}

if (require.main === module) {
  const text = generate();
  if (process.argv.includes('--print')) process.stdout.write(text);
  else if (process.argv.includes('--check')) {
    const current = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    if (current !== text) {
      console.error('src/seccomp/syscall-tables.ts is out of date: run node scripts/gen-syscall-tables.js');
      process.exit(1);
    }
  } else {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, text);
  }
}

module.exports = { generate };
