#!/usr/bin/env -S node --
'use strict';
// A JavaScript bin, not a sh shim: sh would drop environment entries whose names are not shell
// identifiers, and this tool passes the environment byte for byte. env -S gives Node the `--`.
require('../dist/bundle/start.js')('ns-ls');
