/**
 * getopt_long(3) as glibc implements it, driven by an option table: the one option parser of
 * nstools. Every CLI that mirrors a util-linux tool parses with it, so scripts written for
 * unshare(1) or nsenter(1) mean the same thing to ours:
 * - a long option may be abbreviated to any prefix that names one option (`--map-root`);
 * - a required argument is the rest of a short cluster (`-S0`), `=value`, or the next word
 *   whatever it looks like (`--wd -dir`, `-t -5`); an optional one only `=value` or the rest
 *   of the cluster (`--net FILE` means no argument);
 * - `--` ends the options; with `stopAtOperand` (util-linux's '+') so does the first operand,
 *   otherwise operands and options may mix (GNU permutation);
 * - the program's words are never touched: no number coercion, no camelCase, no negation.
 * Errors use glibc's own wording, naming the option as typed.
 */
import { NsError } from '../errors';
import type { CommandSpec, OptionSpec } from './table';

/** A command-line error of the kind getopt itself reports; CLIs add "Try '--help'". */
export class GetoptError extends NsError {
  constructor(message: string) {
    super({ errno: 0, code: 'EUSAGE', message });
  }
}

export interface OptionEvent {
  readonly spec: OptionSpec;
  /** The option as it appeared ('--map-root', '-r'). */
  readonly typed: string;
  /** Its argument, if it took one. */
  readonly value?: string;
  /** The words of a several-word option (`--bind SRC DEST`). */
  readonly words?: readonly string[];
}

/** Options in command-line order (later ones override earlier ones), then the operands. */
export class ParsedArgs {
  constructor(readonly events: readonly OptionEvent[], readonly operands: readonly string[]) {}

  has(long: string): boolean {
    return this.events.some((e) => e.spec.long === long);
  }

  /** The last occurrence's argument ('' for an optional argument given none), or undefined. */
  last(long: string): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.spec.long === long) return e.value ?? '';
    }
    return undefined;
  }

  /** Every occurrence's argument, in order. */
  all(long: string): string[] {
    return this.events.filter((e) => e.spec.long === long).map((e) => e.value ?? '');
  }
}

function resolveLong(typed: string, options: readonly OptionSpec[], shown: string, order?: readonly string[]): OptionSpec {
  const exact = options.find((o) => o.long === typed);
  if (exact) return exact;
  const matches = typed === '' ? [] : options.filter((o) => o.long.startsWith(typed));
  if (order) matches.sort((a, b) => order.indexOf(a.long) - order.indexOf(b.long));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new GetoptError(`option '${shown}' is ambiguous; possibilities:${matches.map((m) => ` '--${m.long}'`).join('')}`);
  }
  throw new GetoptError(`unrecognized option '${shown}'`);
}

/**
 * Parses argv against a command's table.
 * @throws GetoptError with glibc's message for an unknown, ambiguous or malformed option.
 */
export function getopt(argv: readonly string[], command: Pick<CommandSpec, 'options' | 'stopAtOperand' | 'getoptOrder'>): ParsedArgs {
  const options = command.options;
  const stop = command.stopAtOperand ?? true;
  const byShort = new Map(options.filter((o) => o.short).map((o) => [o.short!, o]));
  const events: OptionEvent[] = [];
  const operands: string[] = [];
  let i = 0;
  const done = () => events.length > 0 && events[events.length - 1]!.spec.immediate === true;
  for (; i < argv.length && !done(); i++) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      if (stop) break;
      operands.push(word);
      continue;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const typed = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const spec = resolveLong(typed, options, word, command.getoptOrder);
      const rule = spec.arg ?? 'none';
      if (spec.words) {
        if (eq >= 0) throw new GetoptError(`option '--${spec.long}' doesn't allow an argument`);
        const words = argv.slice(i + 1, i + 1 + spec.words.length);
        if (words.length < spec.words.length) {
          throw new GetoptError(`option '--${spec.long}' requires ${spec.words.length} arguments (${spec.words.join(' ')})`);
        }
        i += words.length;
        events.push({ spec, typed: `--${typed}`, words });
      } else if (rule === 'none') {
        if (eq >= 0) throw new GetoptError(`option '--${spec.long}' doesn't allow an argument`);
        events.push({ spec, typed: `--${typed}` });
      } else if (eq >= 0) {
        events.push({ spec, typed: `--${typed}`, value: word.slice(eq + 1) });
      } else if (rule === 'required') {
        if (i + 1 >= argv.length) throw new GetoptError(`option '--${spec.long}' requires an argument`);
        events.push({ spec, typed: `--${typed}`, value: argv[++i]! });
      } else {
        events.push({ spec, typed: `--${typed}` });
      }
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      if (done()) break;
      const letter = word[j]!;
      const spec = byShort.get(letter);
      if (!spec) throw new GetoptError(`invalid option -- '${letter}'`);
      const rule = spec.shortArg ?? spec.arg ?? 'none';
      const rest = word.slice(j + 1);
      if (rule === 'none') {
        events.push({ spec, typed: `-${letter}` });
        continue;
      }
      if (rule === 'optional') {
        events.push({ spec, typed: `-${letter}`, ...(rest ? { value: rest } : {}) });
        break;
      }
      if (rest) {
        events.push({ spec, typed: `-${letter}`, value: rest });
      } else {
        if (i + 1 >= argv.length) throw new GetoptError(`option requires an argument -- '${letter}'`);
        events.push({ spec, typed: `-${letter}`, value: argv[++i]! });
      }
      break;
    }
  }
  if (done()) return new ParsedArgs(events, []);
  operands.push(...argv.slice(i));
  return new ParsedArgs(events, operands);
}
