/**
 * The per-kind packages, loaded on first use: a CLI pays start-up time only for the kinds its
 * options ask for (ns-net alone is 22 modules, needless for `ns-unshare -Urmuipf`).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as NsUser from 'ns-user';
import type * as NsUts from 'ns-uts';
import type * as NsPid from 'ns-pid';
import type * as NsMount from 'ns-mount';
import type * as NsTime from 'ns-time';
import type * as NsNet from 'ns-net';
import type * as NsIpc from 'ns-ipc';
import type * as NsCgroup from 'ns-cgroup';

export const pkg = {
  get user(): typeof NsUser { return require('ns-user'); },
  get uts(): typeof NsUts { return require('ns-uts'); },
  get pid(): typeof NsPid { return require('ns-pid'); },
  get mount(): typeof NsMount { return require('ns-mount'); },
  get time(): typeof NsTime { return require('ns-time'); },
  get net(): typeof NsNet { return require('ns-net'); },
  get ipc(): typeof NsIpc { return require('ns-ipc'); },
  get cgroup(): typeof NsCgroup { return require('ns-cgroup'); },
};
