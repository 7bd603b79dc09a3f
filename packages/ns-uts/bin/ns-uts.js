#!/bin/sh
':' //; # sh runs the lines that start with ':' and Node skips them (a string, then a comment).
':' //; # sh execs node with this very file, by the path it was started as: Node follows the
':' //; # symlink npm made to find ../dist, so no readlink. `--` ends Node's own options there.
':' //; exec node -- "$0" "$@"
'use strict';
require('../dist/src/cli.js').main();
