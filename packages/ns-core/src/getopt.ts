/**
 * getopt_long's argument rules, which yargs does not have, applied before yargs parses:
 * an optional argument attaches only with '=' to a long option (`--net=FILE`; `--net FILE`
 * means no argument), or as the rest of a short cluster (`-nFILE`, so `-mu` is -m with "u"
 * in nsenter); a required argument takes the rest of the cluster or the next word. Parsing
 * stops at '--' or at the first word that is not an option, as with a leading '+'.
 */
export interface GetoptSpec {
  /** Short letters -> long names, for every option. */
  readonly short: Readonly<Record<string, string>>;
  /** Long names whose argument is optional (`--net[=FILE]`). */
  readonly optional: ReadonlySet<string>;
  /**
   * Short letters whose argument is optional too (nsenter's `-nFILE`, so `-mu` is -m with "u").
   * Other letters of optional-argument options are plain flags, as unshare's `-m` is.
   */
  readonly shortOptional?: ReadonlySet<string>;
  /** Long names that require an argument. */
  readonly required: ReadonlySet<string>;
}

/**
 * Rewrites argv so every option is `--long`, `--long=value` or `--long value` and the program
 * and its arguments follow a '--'. Unknown short letters are passed through as `-x` for yargs
 * to reject; an optional-argument option given without one becomes `--long=` (empty string).
 */
export function normalizeGetopt(argv: readonly string[], spec: GetoptSpec): string[] {
  const out: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      if (spec.optional.has(name) && eq < 0) out.push(`--${name}=`);
      else if (spec.required.has(name) && eq < 0 && i + 1 < argv.length) out.push(word, argv[++i]!);
      else out.push(word);
      continue;
    }
    if (word.startsWith('-') && word.length > 1) {
      for (let j = 1; j < word.length; j++) {
        const letter = word[j]!;
        const long = spec.short[letter];
        if (!long) {
          out.push(`-${letter}`);
          continue;
        }
        const rest = word.slice(j + 1);
        if (spec.optional.has(long)) {
          if (spec.shortOptional?.has(letter)) {
            out.push(`--${long}=${rest}`);
            break;
          }
          out.push(`--${long}=`);
          continue;
        }
        if (spec.required.has(long)) {
          if (rest) out.push(`--${long}=${rest}`);
          else if (i + 1 < argv.length) out.push(`--${long}`, argv[++i]!);
          else out.push(`--${long}`);
          break;
        }
        out.push(`--${long}`);
      }
      continue;
    }
    break; // the program
  }
  return [...out, '--', ...argv.slice(i)];
}
