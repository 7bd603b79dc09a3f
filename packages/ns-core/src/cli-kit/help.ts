/**
 * --help, --version, man pages and bash completion, all rendered from a command's option table
 * (table.ts), so what a CLI documents is what it parses.
 */
import { STANDARD_OPTIONS, type CommandSpec, type OptionSpec } from './table';

export const VERSION = '0.1.0';

/** `ns-unshare from nstools 0.1.0`, as util-linux prints `unshare from util-linux 2.38.1`. */
export function renderVersion(prog: string): string {
  return `${prog} from nstools ${VERSION}\n`;
}

/** The option's words as help shows them: `-m, --mount[=<file>]`, `    --setgroups allow|deny`. */
export function optionLabel(o: OptionSpec): string {
  const rule = o.arg ?? 'none';
  const meta = o.metavar ?? '<arg>';
  let long = `--${o.long}`;
  if (o.words?.length) long += ` ${o.words.map((w) => `<${w}>`).join(' ')}`;
  else if (rule === 'required') long += meta.startsWith('=') ? meta : ` ${meta}`;
  else if (rule === 'optional') long += `[=${meta.replace(/^=/, '')}]`;
  if (!o.short) return `    ${long}`;
  const shortRule = o.shortArg ?? rule;
  // A letter that takes its argument unlike the long form shows how (nsenter's -n[<file>]).
  const letter = o.shortArg === undefined || shortRule === 'none' ? `-${o.short}`
    : shortRule === 'optional' ? `-${o.short}[${meta.replace(/^=/, '')}]` : `-${o.short} ${meta.replace(/^=/, '')}`;
  return `${letter}, ${long}`;
}

/** Options by group, groups in the order they first appear, options in table order within each. */
function groups(options: readonly OptionSpec[]): { title: string | undefined; options: OptionSpec[] }[] {
  const out: { title: string | undefined; options: OptionSpec[] }[] = [];
  for (const o of options) {
    if (o.hidden) continue;
    const group = out.find((g) => g.title === o.group);
    if (group) group.options.push(o);
    else out.push({ title: o.group, options: [o] });
  }
  return out;
}

const COLUMN = 26;

/** util-linux's usage(): Usage lines, the summary, options in two columns, help and version last. */
export function renderHelp(cmd: CommandSpec): string {
  const lines: string[] = ['', 'Usage:', ...cmd.usage.map((u) => ` ${cmd.prog} ${u}`), '', ...cmd.summary.split('\n'), ''];
  const own = cmd.options.filter((o) => !STANDARD_OPTIONS.some((s) => s.long === o.long));
  const runs = groups(own);
  runs.forEach((run, i) => {
    if (i === 0) lines.push(run.title ? `${run.title}:` : 'Options:');
    else lines.push('', ...(run.title ? [`${run.title}:`] : []));
    for (const o of run.options) {
      const label = ` ${optionLabel(o)}`;
      const [first, ...more] = o.help.split('\n');
      if (label.length < COLUMN - 1) lines.push(`${label.padEnd(COLUMN)}${first}`);
      else lines.push(label, `${' '.repeat(COLUMN)}${first}`);
      for (const m of more) lines.push(`${' '.repeat(COLUMN)}${m}`);
    }
  });
  if (cmd.commands?.length) {
    lines.push('', 'Commands:');
    for (const c of cmd.commands) {
      const name = c.prog.slice(cmd.prog.length + 1);
      lines.push(`${` ${name}`.padEnd(COLUMN)}${c.summary.split('\n')[0]}`);
    }
  }
  lines.push('');
  for (const o of STANDARD_OPTIONS) lines.push(`${` ${optionLabel(o)}`.padEnd(COLUMN)}${o.help}`);
  lines.push('', cmd.footer ?? `For more details see ${cmd.prog.split(' ')[0]}(1).`);
  return `${lines.join('\n')}\n`;
}

/** roff text: backslashes and leading dots or quotes escaped, '-' as \- so man shows a hyphen-minus. */
function roff(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

/** A man page (man(7) macros) for the command, from the same table as --help. */
export function renderManPage(cmd: CommandSpec, section = 1, date = '2026-12'): string {
  const title = cmd.prog.replace(/ /g, '-');
  const out: string[] = [
    `.TH ${title.toUpperCase()} ${section} "${date}" "nstools ${VERSION}" "User Commands"`,
    '.SH NAME',
    `${roff(title)} \\- ${roff(cmd.summary.split('\n')[0]!.replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    ...cmd.usage.flatMap((u) => [`.B ${roff(cmd.prog)}`, roff(u), '.br']),
    '.SH DESCRIPTION',
    ...(cmd.description ?? [cmd.summary]).flatMap((p) => ['.PP', roff(p)]),
  ];
  const options = cmd.options.filter((o) => !o.hidden && !STANDARD_OPTIONS.some((s) => s.long === o.long));
  if (options.length) {
    out.push('.SH OPTIONS');
    for (const run of groups(options)) {
      if (run.title) out.push(`.SS ${roff(run.title)}`);
      for (const o of run.options) out.push('.TP', `.B ${roff(optionLabel(o).trim())}`, roff(o.help.replace(/\n\s*/g, ' ')));
    }
  }
  for (const o of STANDARD_OPTIONS) out.push('.TP', `.B ${roff(optionLabel(o))}`, roff(o.help));
  if (cmd.commands?.length) {
    out.push('.SH COMMANDS');
    for (const c of cmd.commands) {
      out.push('.TP', `.B ${roff(c.prog.slice(cmd.prog.length + 1))} ${roff(c.usage[0] ?? '')}`, roff(c.summary.replace(/\n/g, ' ')));
      for (const o of c.options.filter((x) => !x.hidden)) out.push('.RS', '.TP', `.B ${roff(optionLabel(o).trim())}`, roff(o.help.replace(/\n\s*/g, ' ')), '.RE');
    }
  }
  for (const [name, paragraphs] of Object.entries(cmd.manSections ?? {})) {
    out.push(`.SH ${roff(name.toUpperCase())}`, ...paragraphs.flatMap((p) => ['.PP', roff(p)]));
  }
  if (cmd.seeAlso?.length) out.push('.SH SEE ALSO', cmd.seeAlso.map((s) => `.BR ${roff(s.replace(/\((\d)\)$/, ' ($1)'))}`).join(',\n'));
  return `${out.join('\n')}\n`;
}

const SHELL_SAFE = /^[A-Za-z0-9_.,:/=+-]+$/;

/** Words for a bash array, quoted only where they need it. */
function bashWords(words: readonly string[]): string {
  return words.map((w) => (SHELL_SAFE.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function valueCompletion(o: OptionSpec): string {
  const c = o.complete;
  if (Array.isArray(c)) return `COMPREPLY=($(compgen -W ${JSON.stringify(c.join(' '))} -- "$cur"))`;
  switch (c) {
    case 'dir': return 'COMPREPLY=($(compgen -d -- "$cur"))';
    case 'pid': return 'COMPREPLY=($(compgen -W "$(ls /proc | grep -E \'^[0-9]+$\')" -- "$cur"))';
    case 'user': return 'COMPREPLY=($(compgen -u -- "$cur"))';
    case 'group': return 'COMPREPLY=($(compgen -g -- "$cur"))';
    case 'signal': return 'COMPREPLY=($(compgen -W "$(kill -l | tr -d \'0-9)\' | tr \' \\t\' \'\\n\\n\' | grep SIG)" -- "$cur"))';
    case 'command': return 'COMPREPLY=($(compgen -c -- "$cur"))';
    default: return 'COMPREPLY=($(compgen -f -- "$cur"))';
  }
}

/**
 * A bash completion function: options (long and short), their values, subcommands, and once
 * the options end (util-linux's '+': at the first operand) the program and its own arguments.
 */
export function renderBashCompletion(cmd: CommandSpec): string {
  const fn = `_${cmd.prog.replace(/[^A-Za-z0-9]/g, '_')}`;
  const visible = (c: CommandSpec) => c.options.filter((o) => !o.hidden);
  const optionWords = (c: CommandSpec) => visible(c).flatMap((o) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]);
  const valued = (c: CommandSpec) => visible(c).filter((o) => (o.arg ?? 'none') === 'required');
  const caseArms = (c: CommandSpec) => valued(c).map((o) =>
    `      ${[`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])].join('|')}) ${valueCompletion(o)}; return ;;`).join('\n');
  const body = (c: CommandSpec, indent: string) => [
    `${indent}case "$prev" in`,
    caseArms(c),
    `${indent}esac`,
    `${indent}if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${JSON.stringify(bashWords([...optionWords(c), '--help', '--version']))} -- "$cur")); return; fi`,
  ].join('\n');
  const lines = [
    `# bash completion for ${cmd.prog}, generated from its option table by nstools ${VERSION}`,
    `${fn}() {`,
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}',
  ];
  if (cmd.commands?.length) {
    const names = cmd.commands.map((c) => c.prog.slice(cmd.prog.length + 1));
    lines.push(
      '  local sub=${COMP_WORDS[1]}',
      `  if [[ $COMP_CWORD -eq 1 && "$cur" != -* ]]; then COMPREPLY=($(compgen -W ${JSON.stringify(names.join(' '))} -- "$cur")); return; fi`,
      '  case "$sub" in',
      ...cmd.commands.map((c) => [`    ${c.prog.slice(cmd.prog.length + 1)})`, body(c, '      '), '      ;;'].join('\n')),
      // No command word: the options of the command the tool runs by default.
      '    -*)',
      body(cmd, '      '),
      '      ;;',
      '  esac',
      '  COMPREPLY=($(compgen -f -- "$cur"))',
    );
  } else {
    lines.push(
      '  local i',
      // The first operand is the program: complete commands there, then default completion.
      '  for ((i = 1; i < COMP_CWORD; i++)); do',
      '    case "${COMP_WORDS[i]}" in',
      ...valued(cmd).map((o) => `      ${[`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])].join('|')}) ((i++)) ;;`),
      '      --) ((i++)); break ;;',
      '      -*) ;;',
      '      *) break ;;',
      '    esac',
      '  done',
      '  if ((i < COMP_CWORD)); then',
      '    COMPREPLY=($(compgen -f -- "$cur"))',
      '    return',
      '  fi',
      body(cmd, '  '),
      '  COMPREPLY=($(compgen -c -- "$cur"))',
    );
  }
  lines.push('}', `complete -F ${fn} ${cmd.prog}`, '');
  return lines.join('\n');
}
