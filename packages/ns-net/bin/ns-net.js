#!/usr/bin/env -S node --
'use strict';
// A JavaScript bin, not a sh shim: sh would drop environment entries whose names are not shell
// identifiers, and this tool passes the environment byte for byte. env -S gives Node the `--`.
// Its bundle (dist/bundle: npm run build) where one is built, else the compiled modules.
let start;
try {
  start = require('../dist/bundle/start.js');
} catch {
  start = () => require('../dist/src/cli.js').main();
}
start('ns-net');
