'use strict';
// Interleaved measurement: contenders take turns (A B C, B C A, ...) so drift cancels, and
// ratios are medians of per-round ratios rather than ratios of medians.
const { spawn, spawnSync } = require('node:child_process');
const readline = require('node:readline');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A long-lived process answering one iteration per request with its own timing in ns. */
class Server {
  constructor(name, argv, options = {}) {
    this.name = name;
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], ...options });
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async once() {
    this.proc.stdin.write('go\n');
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.name} ended early`);
    return Number(value) / 1e6;
  }
  close() {
    this.proc.stdin.end();
  }
}

/** A command run from scratch each time; wall time in ms, checked for exit 0. */
class Command {
  constructor(name, argv, options = {}) {
    this.name = name;
    this.argv = argv;
    this.options = options;
  }
  async once() {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(this.argv[0], this.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], ...this.options });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${this.name}: exit ${r.status} ${r.signal ?? ''} ${r.stderr}`);
    return ms;
  }
  close() {}
}

/** Runs `rounds` interleaved rounds (after `warmup`) and returns samples per contender. */
async function interleave(contenders, rounds, warmup = 5) {
  const samples = contenders.map(() => []);
  for (let r = -warmup; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + Math.max(r, 0)) % contenders.length;
      const ms = await contenders[i].once();
      if (r >= 0) samples[i].push(ms);
    }
  }
  return samples;
}

function pairedRatio(a, b) {
  return median(a.map((x, i) => x / b[i]));
}

module.exports = { median, Server, Command, interleave, pairedRatio };
