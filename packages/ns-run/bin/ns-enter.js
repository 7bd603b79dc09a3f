#!/usr/bin/env node
'use strict';
require('../dist/src/enter/cli.js').main();
