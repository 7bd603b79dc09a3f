/**
 * The option table: one declaration per option of a CLI, from which parsing (getopt.ts),
 * `--help` (help.ts), the man page and shell completion (manpage.ts, completion.ts) are all
 * made. Nothing else in a CLI spells an option's name, letter or argument rule.
 */

/** getopt_long(3)'s has_arg: no_argument, required_argument, optional_argument. */
export type ArgRule = 'none' | 'required' | 'optional';

export interface OptionSpec {
  /** The long name without dashes ('map-root-user'). */
  readonly long: string;
  /** The short letter, if any ('r'). */
  readonly short?: string;
  /** How the long form takes its argument (default 'none'). */
  readonly arg?: ArgRule;
  /**
   * How the short letter takes one, where it differs from the long form: unshare's `-m` takes
   * none although `--mount[=FILE]` takes an optional one; nsenter's `-n` takes the rest of the
   * cluster as a file (`-mu` is -m with "u").
   */
  readonly shortArg?: ArgRule;
  /**
   * bubblewrap-style options that take several separate words (`--bind SRC DEST`): their
   * names, for help. Such an option never takes `=value`.
   */
  readonly words?: readonly string[];
  /** The argument's name in help ('file', 'uid'); for optional ones shown as `[=<file>]`. */
  readonly metavar?: string;
  /** One line for --help, util-linux style: lower case, no final period. */
  readonly help: string;
  /** A heading in --help and the man page for a run of options. */
  readonly group?: string;
  /** Accepted but not listed (compatibility spellings). */
  readonly hidden?: boolean;
  /**
   * Acted on where it appears (--help, --version): util-linux's getopt loop calls usage() at -h,
   * so `unshare --help --bogus` prints help and `unshare --bogus --help` is an error.
   */
  readonly immediate?: boolean;
  /** Values completion offers (`--propagation slave|shared|...`); 'file' and 'dir' complete paths. */
  readonly complete?: readonly string[] | 'file' | 'dir' | 'pid' | 'user' | 'group' | 'signal' | 'command';
}

export interface CommandSpec {
  /** Name as the user types it ('ns-unshare', 'ns-run exec'). */
  readonly prog: string;
  /** What follows the name on each usage line ('[options] [<program> [<argument>...]]'). */
  readonly usage: readonly string[];
  /** The sentence(s) under the usage lines. */
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /**
   * util-linux's leading '+' in the optstring (POSIXLY_CORRECT): options end at the first word
   * that is not one, so `unshare ls -l` passes -l to ls. False: options and operands may mix,
   * as in `ns-ls -t net 4026531840 -J` (GNU permutation).
   */
  readonly stopAtOperand?: boolean;
  /**
   * The C tool's long_opts[] order, where it differs from the table's (which is its --help
   * order): glibc lists an ambiguous abbreviation's possibilities in that order.
   */
  readonly getoptOrder?: readonly string[];
  /** Paragraphs for the man page's DESCRIPTION (the summary when absent). */
  readonly description?: readonly string[];
  /** Man page section name -> paragraphs (EXIT STATUS, EXAMPLES, NOTES...). */
  readonly manSections?: Readonly<Record<string, readonly string[]>>;
  /** Related pages for SEE ALSO ('unshare(1)', 'nsenter(1)'). */
  readonly seeAlso?: readonly string[];
  /** Subcommands (ns-run's run, ps, exec...), each a command of its own. */
  readonly commands?: readonly CommandSpec[];
  /** Help's closing line ("For more details see unshare(1)."). */
  readonly footer?: string;
}

/** The --help and --version rows every nstools CLI has, as util-linux prints them last. */
export const STANDARD_OPTIONS: readonly OptionSpec[] = [
  { long: 'help', short: 'h', help: 'display this help', immediate: true },
  { long: 'version', short: 'V', help: 'display version', immediate: true },
];
