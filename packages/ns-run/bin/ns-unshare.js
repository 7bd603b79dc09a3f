#!/usr/bin/env node
'use strict';
require('../dist/src/unshare/cli.js').main();
