/**
 * What starting a container costs in modules: the runner's library, loaded and used to plan a
 * container with the default seccomp filter, loads neither node:crypto (~2 ms) nor node:net
 * (~1.5 ms); node:net comes only with a published port.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freshNodeRun, scratchDir } from 'ns-test-kit';

const LIBRARY = join(__dirname, '../src/index.js');

describe('container start: modules loaded', () => {
  const scratch = scratchDir('nstools-load-cost');
  // A state root of ours (0700), so that the filter comes through the seccomp cache's files too.
  const state = () => join(scratch(), 'state');
  before(() => mkdirSync(state(), { mode: 0o700 }));

  it('planning a container (name, filter) loads no node:crypto or node:net', () => {
    const { added } = freshNodeRun(`const lib = require(${JSON.stringify(LIBRARY)});
      const plan = lib.planContainer(['/bin/true'], { network: 'none', stateDir: ${JSON.stringify(state())} });
      if (!plan.seccomp || !/^nsr-[0-9a-f]{8}$/.test(plan.name)) throw new Error('no filter or name: ' + plan.name);
      report(null);`);
    expect(added).to.not.include('crypto');
    expect(added).to.not.include('net');
  });

  it('the check can fail: a published port\'s proxy loads node:net', () => {
    const { added } = freshNodeRun(`const lib = require(${JSON.stringify(LIBRARY)});
      lib.PortProxy.listen([{ hostAddress: '127.0.0.1', hostPort: 0, containerPort: 80 }]).then((p) => { p.close(); report(null); });`);
    expect(added).to.include('net');
  });
});
