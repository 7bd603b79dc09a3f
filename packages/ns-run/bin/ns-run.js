#!/usr/bin/env node
'use strict';
require('../dist/src/runner/cli.js').main();
