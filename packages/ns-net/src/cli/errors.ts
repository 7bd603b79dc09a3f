/**
 * How an `ip`-grammar command ends when it fails: the exact text ip writes on stderr and its
 * exit status (255 for usage errors, which ip reports with exit(-1); 1 for a missing device or
 * namespace; 2 for an error the kernel answered). Only the CLI throws these; library errors
 * are NsError and are turned into ip's words by reportKernel().
 */
export class IpExit extends Error {
  readonly status: number;
  /** What goes to stderr, newlines included (may be empty). */
  readonly stderr: string;
  /**
   * ip ended the process here (exit()), rather than returning a failure from the command: in
   * batch mode the batch stops at once, without "Command failed". Usage errors (255) always do.
   */
  readonly fatal: boolean;

  constructor(status: number, stderr: string, fatal = status === 255) {
    super(stderr.trimEnd() || `exit ${status}`);
    this.name = 'IpExit';
    this.status = status;
    this.stderr = stderr;
    this.fatal = fatal;
  }
}
