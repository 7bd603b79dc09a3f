#!/usr/bin/env node
// One `load` of an image archive into a store, as `ns-run load -i ARCHIVE --storage STORE` will
// do it: open the store, load, print what was loaded. Used by bench/run.js (image_load_vs_podman).
'use strict';
const { ImageStore, loadImages } = require('../packages/ns-image');

const [store, archive] = process.argv.slice(2);
loadImages(ImageStore.open({ root: store }), archive).then(
  (loaded) => { for (const l of loaded) process.stdout.write(`Loaded image: ${l.references[0] ?? l.id}\n`); },
  (e) => { process.stderr.write(`${e.message}\n`); process.exit(125); },
);
