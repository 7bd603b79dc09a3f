/**
 * ns-core/cli: what nstools' command-line tools share, kept apart from the library so that
 * library users never load it: the option table and its getopt_long parser, --help, man pages
 * and completion rendered from the table, one-line errors with each tool family's exit codes,
 * and the one launch path and signal policy.
 */
export { STANDARD_OPTIONS, type ArgRule, type CommandSpec, type OptionSpec } from './table';
export { getopt, GetoptError, ParsedArgs, type OptionEvent } from './getopt';
export { renderHelp, renderVersion, renderManPage, renderBashCompletion, optionLabel, VERSION } from './help';
export {
  runCli, runCommands, failAndExit, formatError, exitCodeForError, writeStderr, UTIL_LINUX_EXITS, DOCKER_EXITS,
  type ExitCodes, type CliOptions,
} from './main';
export { launch, exitLike, defaultProgram, inheritedIgnoredSignals, type LaunchOptions, type SignalPolicy } from './launch';
export { scriptArguments } from '../bytes';
