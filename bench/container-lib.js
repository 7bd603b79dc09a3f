// container_lib_vs_crun's contender: the container of container_cli_vs_crun (busybox rootfs,
// --network none, /bin/true) started from a long-lived Node process through ns-container's
// runContainer, timed until it has ended and everything it had is removed (bench/worker.js
// calls the function this returns once per round). The rootfs comes in NSTOOLS_BENCH_ROOTFS.
'use strict';
const { runContainer } = require('../packages/ns-container');

exports.runTrue = () => {
  const rootfs = process.env.NSTOOLS_BENCH_ROOTFS;
  if (!rootfs) throw new Error('container-lib: NSTOOLS_BENCH_ROOTFS names no rootfs');
  return async () => {
    const container = await runContainer(['/bin/true'], { rootfs, network: 'none', stdio: 'ignore' });
    const status = await container.exited;
    if (status.code !== 0) throw new Error(`container-lib: /bin/true ended with ${JSON.stringify(status)}`);
  };
};
