#!/usr/bin/env node
'use strict';
require('../dist/src/oci/cli.js').main();
