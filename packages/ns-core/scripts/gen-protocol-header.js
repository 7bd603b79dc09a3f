#!/usr/bin/env node
// Writes native/protocol.h from src/exec/protocol.ts, the protocol's only definition, and the
// errno names and messages the in-place stage prints from src/errors.ts (Node's own tables).
// `--check` exits 1 if the committed header differs; a test runs it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.join(__dirname, '..');

/** Loads a TypeScript module of src/ (and what it imports from src/) without a build. */
function load(file, cache = new Map()) {
  const full = path.resolve(file);
  if (cache.has(full)) return cache.get(full).exports;
  const mod = { exports: {} };
  cache.set(full, mod);
  const js = ts.transpileModule(fs.readFileSync(full, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS } }).outputText;
  const req = (name) => (name.startsWith('.') ? load(path.join(path.dirname(full), `${name}.ts`), cache) : require(name));
  new Function('module', 'exports', 'require', js)(mod, mod.exports, req);
  return mod.exports;
}

const p = load(path.join(root, 'src/exec/protocol.ts'));
const errors = load(path.join(root, 'src/errors.ts'));
/** EHWPOISON, the highest errno Linux has (include/uapi/asm-generic/errno.h). */
const ERRNO_MAX = 133;
const cString = (s) => JSON.stringify(s); // the texts are ASCII: JSON's escapes are C's

/** Path endings hintFor() tells apart; '' stands for any other path. */
const HINT_PATHS = ['uid_map', 'gid_map', ''];

function hints() {
  const out = [];
  for (const syscall of p.SYSCALLS) {
    for (let errno = 1; errno <= ERRNO_MAX; errno++) {
      for (const user of [false, true]) {
        const general = errors.hintFor(errors.errnoName(errno), syscall, '/', user ? ['user'] : undefined);
        for (const suffix of HINT_PATHS) {
          const text = errors.hintFor(errors.errnoName(errno), syscall, `/proc/self/${suffix}`, user ? ['user'] : undefined);
          // Specific endings first (the stage takes the first match), only where they differ.
          if (suffix === '' ? general : text && text !== general) out.push({ errno, syscall, user, suffix, text: suffix === '' ? general : text });
        }
      }
    }
  }
  return out;
}

const maxCode = Math.max(...Object.values(p.OPS).map((o) => o.code));
const arity = new Array(maxCode + 1).fill(-2);
for (const o of Object.values(p.OPS)) arity[o.code] = o.strings;

const lines = [
  '/* Generated from src/exec/protocol.ts and src/errors.ts by scripts/gen-protocol-header.js. Do not edit. */',
  '#ifndef NSX_PROTOCOL_H',
  '#define NSX_PROTOCOL_H',
  '',
  `#define NSX_MAGIC 0x${p.PROTOCOL_MAGIC.toString(16)}u`,
  `#define NSX_VERSION ${p.PROTOCOL_VERSION}u`,
  `#define NSX_MAX_OPS ${p.MAX_OPS}u`,
  `#define NSX_MAX_STRINGS ${p.MAX_STRINGS}u`,
  `#define NSX_MAX_PLAN_BYTES ${p.MAX_PLAN_BYTES}u`,
  `#define NSX_MAX_FD_SLOTS ${p.MAX_FD_SLOTS}u`,
  `#define NSX_MAX_NS_IDS ${p.MAX_NS_IDS}u`,
  `#define NSX_MAX_HELPER_OUTPUT ${p.MAX_HELPER_OUTPUT}u`,
  `#define NSX_MAX_BINDS ${p.MAX_BINDS}u`,
  `#define NSX_MAX_FORK_WORDS ${p.MAX_FORK_WORDS}u`,
  `#define NSX_OP_ARGS ${p.OP_ARGS}`,
  `#define NSX_OP_HEAD_BYTES ${p.OP_HEAD_BYTES}u`,
  `#define NSX_RECORD_BYTES ${p.RECORD_BYTES}u`,
  `#define NSX_CHILD_FAILURE_EXIT ${p.CHILD_FAILURE_EXIT}`,
  `#define NSX_BIND_TREE_ATTRS 0x${Object.values(p.BIND_TREE_ATTRS).reduce((a, b) => a | b, 0).toString(16)}ULL`,
  '',
  'enum nsx_op {',
  ...Object.entries(p.OPS).map(([name, o]) => `\tNSX_OP_${name} = ${o.code},`),
  '};',
  '',
  '/* String arity per opcode, indexed by code; -1 is variable, -2 an unknown code. */',
  `#define NSX_OP_MAX ${maxCode}`,
  'static const int nsx_op_strings[NSX_OP_MAX + 1] = {',
  ...arity.map((a, i) => `\t[${i}] = ${a},`),
  '};',
  '',
  'enum nsx_fork_mode {',
  ...Object.entries(p.FORK_MODE).map(([name, v]) => `\tNSX_FORK_${name} = ${v},`),
  '};',
  '',
  'enum nsx_label {',
  ...Object.entries(p.LABEL).map(([name, v]) => `\tNSX_LABEL_${name} = ${v},`),
  '};',
  `#define NSX_LABEL_ALL ${Object.values(p.LABEL).reduce((a, b) => a | b, 0)}`,
  '',
  'enum nsx_record {',
  ...Object.entries(p.RECORD).map(([name, v]) => `\tNSX_REC_${name} = ${v},`),
  '};',
  '',
  'enum nsx_syscall {',
  ...p.SYSCALLS.map((name, i) => `\tNSX_SYS_${name.toUpperCase()} = ${i},`),
  '};',
  `#define NSX_SYSCALL_COUNT ${p.SYSCALLS.length}`,
  'static const char *const nsx_syscall_names[NSX_SYSCALL_COUNT] = {',
  ...p.SYSCALLS.map((name) => `\t${cString(name)},`),
  '};',
  '',
  'enum nsx_decode_error {',
  ...p.DECODE_ERRORS.map((name, i) => `\tNSX_DECODE_${name.toUpperCase()} = ${i},`),
  '};',
  `#define NSX_DECODE_ERROR_COUNT ${p.DECODE_ERRORS.length}`,
  'static const char *const nsx_decode_error_names[NSX_DECODE_ERROR_COUNT] = {',
  ...p.DECODE_ERRORS.map((name) => `\t${cString(name)},`),
  '};',
  '',
  '/* errnoName() and errnoMessage() of src/errors.ts for 0..NSX_ERRNO_MAX, as NsError messages show them. */',
  `#define NSX_ERRNO_MAX ${ERRNO_MAX}`,
  'static const char *const nsx_errno_names[NSX_ERRNO_MAX + 1] = {',
  ...Array.from({ length: ERRNO_MAX + 1 }, (_, n) => `\t${cString(n ? errors.errnoName(n) : '')},`),
  '};',
  'static const char *const nsx_errno_messages[NSX_ERRNO_MAX + 1] = {',
  ...Array.from({ length: ERRNO_MAX + 1 }, (_, n) => `\t${cString(n ? errors.errnoMessage(n) : '')},`),
  '};',
  '',
  '/* hintFor() of src/errors.ts for each errno and syscall the stage reports, with and without a user namespace among the op\'s kinds. */',
  'struct nsx_hint {',
  '\tunsigned short err;',
  '\tunsigned char sys, user;',
  '\tconst char *path_suffix; /* the op\'s path must end so ("": any path) */',
  '\tconst char *text;',
  '};',
  'static const struct nsx_hint nsx_hints[] = {',
  ...hints().map((h) => `\t{ ${h.errno}, NSX_SYS_${h.syscall.toUpperCase()}, ${h.user ? 1 : 0}, ${cString(h.suffix)}, ${cString(h.text)} },`),
  '};',
  '#define NSX_HINT_COUNT (sizeof(nsx_hints) / sizeof(nsx_hints[0]))',
  '',
  '#endif',
  '',
];
const out = lines.join('\n');
const headerPath = path.join(root, 'native/protocol.h');
if (process.argv.includes('--check')) {
  const current = fs.existsSync(headerPath) ? fs.readFileSync(headerPath, 'utf8') : '';
  if (current !== out) {
    console.error('native/protocol.h is out of date: run node scripts/gen-protocol-header.js');
    process.exit(1);
  }
} else {
  fs.writeFileSync(headerPath, out);
}
