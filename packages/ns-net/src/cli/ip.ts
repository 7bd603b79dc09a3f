/**
 * `ns-net [OPTIONS] OBJECT COMMAND ...`: ip's front end (ip/ip.c): the global options, the
 * object table, batch files (-b), and how a command's failure becomes ip's exit status.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsError } from 'ns-core/errors';
import { AF } from '../codec/constants';
import { getUnsigned, invarg, readFamily } from './args';
import { IpContext, defaultGlobals, isKernelError, kernelMessage, openNamedNetns, writeOut, type Globals } from './context';
import { IpExit } from './errors';
import { strerror } from './strerror';
import { globalOption, objectOf } from './grammar';

const IP_USAGE = `Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }
       ip [ -force ] -batch filename
where  OBJECT := { address | addrlabel | amt | fou | help | ila | ioam | l2tp |
                   link | macsec | maddress | monitor | mptcp | mroute | mrule |
                   neighbor | neighbour | netconf | netns | nexthop | ntable |
                   ntbl | route | rule | sr | tap | tcpmetrics |
                   token | tunnel | tuntap | vrf | xfrm }
       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] | -r[esolve] |
                    -h[uman-readable] | -iec | -j[son] | -p[retty] |
                    -f[amily] { inet | inet6 | mpls | bridge | link } |
                    -4 | -6 | -M | -B | -0 |
                    -l[oops] { maximum-addr-flush-attempts } | -br[ief] |
                    -o[neline] | -t[imestamp] | -ts[hort] | -b[atch] [filename] |
                    -rc[vbuf] [size] | -n[etns] name | -N[umeric] | -a[ll] |
                    -c[olor]}
`;

function usage(): never {
  throw new IpExit(255, IP_USAGE);
}

/** The package's version (dist/src/cli/ip.js is three levels below package.json). */
function version(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** main()'s option loop: the globals and where the object starts. */
export function parseGlobals(argv: readonly string[]): { g: Globals; rest: string[] } {
  const g = defaultGlobals();
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (!word.startsWith('-')) break;
    const o = globalOption(word);
    const opt = word.startsWith('--') ? word.slice(1) : word;
    if (!o) throw new IpExit(255, `Option "${opt}" is unknown, try "ip -help".\n`);
    const value = () => {
      if (o.name === '-netns') {
        if (i + 1 >= argv.length) throw new IpExit(255, 'Command line is not complete. Try option "help"\n');
      } else if (i + 1 >= argv.length) usage();
      return argv[++i]!;
    };
    switch (o.name) {
      case '-loops': g.loops = Number.parseInt(value(), 10) || 0; break;
      case '-family': {
        const v = value();
        if (v === 'help') usage();
        g.family = readFamily(v);
        if (g.family === AF.UNSPEC) invarg('invalid protocol family', v);
        break;
      }
      case '-4': g.family = AF.INET; break;
      case '-6': g.family = AF.INET6; break;
      case '-0': g.family = AF.PACKET; break;
      case '-M': g.family = 28; break;
      case '-B': g.family = AF.BRIDGE; break;
      case '-human': case '-human-readable': g.human++; break;
      case '-iec': g.iec = true; break;
      case '-stats': case '-statistics': g.stats++; break;
      case '-details': g.details++; break;
      case '-resolve': g.resolve = true; break;
      case '-oneline': g.oneline = true; break;
      case '-timestamp': g.timestamp++; break;
      case '-tshort': g.timestamp++; break;
      case '-Version':
        writeOut(1, `ns-net from nstools ${version()} (ip grammar of iproute2-6.1.0)\n`);
        throw new IpExit(0, '');
      case '-force': g.force = true; break;
      case '-batch': g.batch = value(); break;
      case '-brief': g.brief = true; break;
      case '-json': g.json = true; break;
      case '-pretty': g.pretty = true; break;
      case '-rcvbuf': {
        const v = value();
        if (getUnsigned(v) === undefined) throw new IpExit(255, `Invalid rcvbuf size '${v}'\n`);
        break;
      }
      case '-color': break;
      case '-help': usage();
      // falls through (usage never returns)
      case '-netns': {
        g.netns = value();
        // ip switches at once: a namespace that cannot be opened ends it here.
        openNamedNetns(g.netns).close();
        break;
      }
      case '-Numeric': g.numeric = true; break;
      case '-all': g.all = true; break;
      case '-echo': g.echo = true; break;
      default: throw new IpExit(255, `Option "${opt}" is unknown, try "ip -help".\n`);
    }
  }
  return { g, rest: argv.slice(i) };
}

/** do_cmd(): the object by ip's prefix rules, then its command. */
async function doCmd(ctx: IpContext, words: readonly string[]): Promise<number> {
  const [word, ...rest] = words as [string, ...string[]];
  const o = objectOf(word);
  if (!o) throw new IpExit(1, `Object "${word}" is unknown, try "ip help".\n`);
  // Each object's module is loaded only when it is the one asked for (start-up is Node's).
  /* eslint-disable @typescript-eslint/no-require-imports */
  switch (o.name) {
    case 'address': return (require('./ipaddress') as typeof import('./ipaddress')).doIpaddr(ctx, rest);
    case 'route': return (require('./iproute') as typeof import('./iproute')).doIproute(ctx, rest);
    case 'link': return (require('./iplink') as typeof import('./iplink')).doIplink(ctx, rest);
    case 'netns': return (require('./ipnetns') as typeof import('./ipnetns')).doNetns(ctx, rest);
  /* eslint-enable @typescript-eslint/no-require-imports */
    case 'help': usage();
    // falls through
    default: throw new IpExit(1, `ns-net: "ip ${o.name}" is not supported\n`);
  }
}

/** One command, its output flushed; a failure as ip reports it: [status, fatal]. */
async function runOne(ctx: IpContext, words: readonly string[]): Promise<{ status: number; fatal: boolean }> {
  try {
    const status = await doCmd(ctx, words);
    ctx.flush();
    return { status, fatal: false };
  } catch (e) {
    ctx.flush();
    if (e instanceof IpExit) {
      writeOut(2, e.stderr);
      return { status: e.status, fatal: e.fatal };
    }
    if (isKernelError(e)) {
      writeOut(2, kernelMessage(e));
      return { status: 2, fatal: false };
    }
    if (e instanceof NsError) {
      writeOut(2, `ns-net: ${e.message}\n`);
      return { status: e.code === 'EUSAGE' ? 255 : 1, fatal: false };
    }
    throw e;
  }
}

/** makeargs(): words split on blanks, '...' and "..." quoted; "#" starts a comment. */
export function batchWords(line: string): string[] | { error: string } {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && ' \t\r\n'.includes(line[i]!)) i++;
    if (i >= line.length) break;
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) return { error: 'Unterminated quoted string\n' };
      words.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < line.length && !' \t\r\n'.includes(line[j]!)) j++;
      words.push(line.slice(i, j));
      i = j;
    }
    // The character after a word (or a closing quote) separates; ip overwrites it.
    i++;
  }
  return words;
}

/** getcmdline(): lines with comments cut and "\" continuations joined, with their line numbers. */
function batchLines(text: string): { line: string; number: number }[] {
  const raw = text.split('\n');
  if (raw[raw.length - 1] === '') raw.pop();
  const out: { line: string; number: number }[] = [];
  for (let n = 0; n < raw.length; n++) {
    const cut = (s: string) => (s.includes('#') ? s.slice(0, s.indexOf('#')) : s);
    let line = `${cut(raw[n]!)}\n`;
    while (line.endsWith('\\\n') && n + 1 < raw.length) {
      n++;
      line = line.slice(0, -2) + `${cut(raw[n]!)}\n`;
    }
    out.push({ line, number: n + 1 });
  }
  return out;
}

async function batch(g: Globals, file: string): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    writeOut(2, `Cannot open file "${file}" for reading: ${strerror(Math.abs((e as NodeJS.ErrnoException).errno ?? 2))}\n`);
    return 1;
  }
  const ctx = new IpContext(g);
  const family = g.family;
  let ret = 0;
  try {
    for (const { line, number } of batchLines(text)) {
      const words = batchWords(line);
      if (!Array.isArray(words)) {
        writeOut(2, words.error);
        return 1;
      }
      if (words.length === 0) continue;
      g.family = family;
      const r = await runOne(ctx, words);
      if (r.fatal) return r.status;
      if (r.status !== 0) {
        writeOut(2, `Command failed ${file}:${number}\n`);
        ret = 1;
        if (!g.force) break;
      }
    }
  } finally {
    ctx.close();
  }
  return ret;
}

/** ns-net's ip grammar: returns the exit status. */
export async function ipMain(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseGlobals(argv);
  } catch (e) {
    if (e instanceof IpExit) {
      writeOut(2, e.stderr);
      return e.status;
    }
    throw e;
  }
  const { g, rest } = parsed;
  if (g.batch !== undefined) return batch(g, g.batch);
  if (rest.length === 0) {
    writeOut(2, IP_USAGE);
    return 255;
  }
  const ctx = new IpContext(g);
  try {
    return (await runOne(ctx, rest)).status;
  } finally {
    ctx.close();
  }
}
