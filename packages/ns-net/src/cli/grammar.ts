/**
 * ip's command line (ip/ip.c main()): options before the object, each matched by prefix in a
 * fixed order ("-s" is -stats, "-br" -brief, "-j" -json, "--json" the same as "-json"), then
 * the object, also by prefix in ip's table order ("l" is link, "a" address, "r" route).
 * Kept free of heavy imports: ns-net reads this to decide, at start-up, whether its words are
 * ip's grammar or the run form (`ns-net [--veth ...] -- program`).
 */

/** What an option does to the globals, or that it takes the next word. */
export interface GlobalOption {
  /** ip's spelling, matched by prefix unless `exact`. */
  readonly name: string;
  readonly exact?: boolean;
  /** The option takes the next word as its value. */
  readonly arg?: boolean;
}

/** ip.c's options in the order main() tries them (the first the word is a prefix of wins). */
export const GLOBAL_OPTIONS: readonly GlobalOption[] = [
  { name: '-loops', arg: true }, { name: '-family', arg: true },
  { name: '-4', exact: true }, { name: '-6', exact: true }, { name: '-0', exact: true }, { name: '-M', exact: true },
  { name: '-B', exact: true }, { name: '-human' }, { name: '-human-readable' }, { name: '-iec' }, { name: '-stats' },
  { name: '-statistics' }, { name: '-details' }, { name: '-resolve' }, { name: '-oneline' }, { name: '-timestamp' },
  { name: '-tshort' }, { name: '-Version' }, { name: '-force' }, { name: '-batch', arg: true }, { name: '-brief' },
  { name: '-json' }, { name: '-pretty' }, { name: '-rcvbuf', arg: true }, { name: '-color' }, { name: '-help' },
  { name: '-netns', arg: true }, { name: '-Numeric' }, { name: '-all' }, { name: '-echo', exact: true },
];

/** matches_color(): "-color", "-c", "-color=always|auto|never". */
export function colorOption(opt: string): boolean {
  const eq = opt.indexOf('=');
  const head = eq < 0 ? opt : opt.slice(0, eq);
  const value = eq < 0 ? '' : opt.slice(eq + 1);
  if (!'-color'.startsWith(head)) return false;
  return value === '' || value === 'always' || value === 'auto' || value === 'never';
}

/** The option a word is, by ip's rules; undefined if none. ("--x" reads as "-x".) */
export function globalOption(word: string): GlobalOption | undefined {
  const opt = word.startsWith('--') ? word.slice(1) : word;
  for (const o of GLOBAL_OPTIONS) {
    if (o.name === '-color') {
      if (colorOption(opt)) return o;
      continue;
    }
    if (o.exact ? opt === o.name : o.name.startsWith(opt)) return o;
  }
  return undefined;
}

/** ip's objects in its table order; `supported` marks those ns-net speaks. */
export const OBJECTS: readonly { readonly name: string; readonly supported: boolean }[] = [
  'address', 'addrlabel', 'maddress', 'route', 'rule', 'neighbor', 'neighbour', 'ntable', 'ntbl', 'link', 'l2tp', 'fou',
  'ila', 'macsec', 'tunnel', 'tunl', 'tuntap', 'tap', 'token', 'tcpmetrics', 'tcp_metrics', 'monitor', 'xfrm', 'mroute',
  'mrule', 'netns', 'netconf', 'vrf', 'sr', 'nexthop', 'mptcp', 'ioam', 'help', 'stats',
].map((name) => ({ name, supported: ['address', 'route', 'link', 'netns', 'help'].includes(name) }));

/** do_cmd()'s lookup: the first object the word is a prefix of. */
export function objectOf(word: string): { readonly name: string; readonly supported: boolean } | undefined {
  return OBJECTS.find((o) => o.name.startsWith(word));
}

/** The run form's own long options: their presence means the words are not ip's. */
const RUN_FORM_OPTIONS = new Set(['--veth', '--address', '--peer-address', '--gateway', '--loopback', '--no-loopback', '--help', '--version']);

/**
 * Whether the words are ip's grammar: ip options (if any) and then an object ns-net speaks
 * by ip's prefix rules (or the full name of one it does not, to say so), or a batch file.
 * Anything else, and anything after `--`, is the run form.
 */
export function isIpGrammar(argv: readonly string[]): boolean {
  let i = 0;
  let batch = false;
  while (i < argv.length) {
    const w = argv[i]!;
    if (w === '--') return false;
    if (!w.startsWith('-') || w === '-') break;
    if (RUN_FORM_OPTIONS.has(w.split('=')[0]!)) return false;
    const o = globalOption(w);
    if (o?.name === '-batch') batch = true;
    i += o?.arg ? 2 : 1;
  }
  if (batch) return true;
  const word = argv[i];
  if (word === undefined) return false;
  const o = objectOf(word);
  return o !== undefined && (o.supported || o.name === word);
}
