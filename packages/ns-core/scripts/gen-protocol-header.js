#!/usr/bin/env node
// Writes native/protocol.h from src/exec/protocol.ts, the protocol's only definition.
// Run by the build before compiling C; `--check` exits 1 if the committed header differs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.join(__dirname, '..');
const source = fs.readFileSync(path.join(root, 'src/exec/protocol.ts'), 'utf8');
const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS } }).outputText;
const mod = { exports: {} };
new Function('module', 'exports', js)(mod, mod.exports);
const p = mod.exports;

const lines = [
  '/* Generated from src/exec/protocol.ts by scripts/gen-protocol-header.js. Do not edit. */',
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
  `#define NSX_RECORD_BYTES ${p.RECORD_BYTES}u`,
  `#define NSX_CHILD_FAILURE_EXIT ${p.CHILD_FAILURE_EXIT}`,
  '',
  'enum nsx_op {',
  ...Object.entries(p.OPS).map(([name, o]) => `\tNSX_OP_${name} = ${o.code},`),
  '};',
  '',
  '/* String arity per opcode, indexed by code; -1 is variable, -2 an unknown code. */',
  `#define NSX_OP_MAX ${Math.max(...Object.values(p.OPS).map((o) => o.code))}`,
  'static const int nsx_op_strings[NSX_OP_MAX + 1] = {',
  ...(() => {
    const arity = new Array(Math.max(...Object.values(p.OPS).map((o) => o.code)) + 1).fill(-2);
    for (const o of Object.values(p.OPS)) arity[o.code] = o.strings;
    return arity.map((a, i) => `\t[${i}] = ${a},`);
  })(),
  '};',
  '',
  'enum nsx_record {',
  ...Object.entries(p.RECORD).map(([name, v]) => `\tNSX_REC_${name} = ${v},`),
  '};',
  '',
  'enum nsx_syscall {',
  ...p.SYSCALLS.map((name, i) => `\tNSX_SYS_${name.toUpperCase()} = ${i},`),
  '};',
  '',
  'enum nsx_decode_error {',
  ...p.DECODE_ERRORS.map((name, i) => `\tNSX_DECODE_${name.toUpperCase()} = ${i},`),
  '};',
  `#define NSX_DECODE_ERROR_COUNT ${p.DECODE_ERRORS.length}`,
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
