/**
 * The per-kind packages, loaded on first use: a CLI pays start-up time only for the kinds its
 * options ask for (ns-net alone is 22 modules, needless for `ns-unshare -Urmuipf`). Of ns-net
 * only its step (the netns, lo up, a veth): its index would bring ip's printers and nf_tables
 * into every bundle that names it, ~150 KB that each start reads and V8 deserialises.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as NsUser from 'ns-user';
import type * as NsUts from 'ns-uts';
import type * as NsPid from 'ns-pid';
import type * as NsMount from 'ns-mount';
import type * as NsTime from 'ns-time';
import type * as NsNetStep from 'ns-net/step';

export const pkg = {
  get user(): typeof NsUser { return require('ns-user'); },
  get uts(): typeof NsUts { return require('ns-uts'); },
  get pid(): typeof NsPid { return require('ns-pid'); },
  get mount(): typeof NsMount { return require('ns-mount'); },
  get time(): typeof NsTime { return require('ns-time'); },
  get net(): typeof NsNetStep { return require('ns-net/step'); },
};
