/**
 * --help lists every option util-linux's --help lists (short letters included) and every one
 * added since 2.38.1 (mission-anchors.md sections 1 and 2); -h is --help; --version and -V
 * name the tool and a version. All exit 0 and write to stdout only.
 */
import { expect } from 'chai';
import { both, type Ran, type Tool } from './cli';

/** Options newer than util-linux 2.38.1, and our extensions. */
const NEWER: Record<Tool, string[]> = {
  unshare: ['mount-binfmt', 'load-interp', 'map-subids', 'owner', 'forward-signals', 'clear-env', 'whitelist-env',
    'hostname', 'loopback', 'info-fd', 'json-status-fd'],
  nsenter: ['env', 'join-cgroup', 'keep-caps', 'user-parent', 'net-socket', 'info-fd', 'json-status-fd'],
};

/** Long options and short letters util-linux's own --help lists. */
function listed(help: string): { long: string[]; short: string[] } {
  const long = [...new Set([...help.matchAll(/--([a-z][a-z-]+)/g)].map((m) => m[1]!))];
  const short = [...new Set([...help.matchAll(/^\s+-([a-zA-Z]),/gm)].map((m) => m[1]!))];
  return { long, short };
}

for (const tool of ['unshare', 'nsenter'] as const) {
  const ours = tool === 'unshare' ? 'ns-unshare' : 'ns-enter';
  describe(`${ours} --help and --version`, () => {
    let help: { theirs: Ran; ours: Ran };
    before(() => {
      help = both(tool, ['--help']);
    });

    it('--help exits 0 with usage on stdout only', () => {
      expect(help.theirs.status).to.equal(0);
      expect(help.ours.status).to.equal(0);
      expect(help.ours.stderr).to.equal('');
      expect(help.ours.stdout).to.match(new RegExp(`Usage:\\s+${ours} \\[options\\] \\[<program> \\[<argument>\\.\\.\\.\\]\\]`));
    });

    it(`lists every long option of ${tool} 2.38.1 and every newer one`, () => {
      const { long } = listed(help.theirs.stdout);
      expect(long.length, `${tool} --help parsed`).to.be.greaterThan(15);
      const missing = [...long, ...NEWER[tool]].filter((o) => !new RegExp(`--${o}\\b`).test(help.ours.stdout));
      expect(missing).to.deep.equal([]);
    });

    it(`shows every short letter of ${tool} 2.38.1`, () => {
      const { short } = listed(help.theirs.stdout);
      expect(short.length).to.be.greaterThan(8);
      const missing = short.filter((l) => !new RegExp(`(^|\\s)-${l}\\b`, 'm').test(help.ours.stdout));
      expect(missing).to.deep.equal([]);
    });

    it('-h is --help', () => {
      const h = both(tool, ['-h']).ours;
      expect(h).to.deep.equal(help.ours);
    });

    for (const flag of ['--version', '-V']) {
      it(`${flag} names the tool and a version, exit 0`, () => {
        const { theirs, ours: r } = both(tool, [flag]);
        expect(theirs.status).to.equal(0);
        expect(r.status).to.equal(0);
        expect(r.stderr).to.equal('');
        expect(r.stdout).to.match(new RegExp(`^${ours} .*\\d+\\.\\d+\\.\\d+\\n$`));
      });
    }
  });
}
