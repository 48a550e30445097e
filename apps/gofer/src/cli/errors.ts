import { CommanderError, type Command } from 'commander';
import { GrpcStatus, isServiceError } from '@gofer/proto';

/** Exit codes of every `gofer` command. */
export const EXIT_OK = 0;
/** An API call failed, a waited-for run did not succeed, or a local operation (reading a file) failed. */
export const EXIT_FAILURE = 1;
/** The command line was wrong: unknown command or option, missing or malformed argument. */
export const EXIT_USAGE = 2;

/** A command-line mistake found by our own checks (as opposed to commander's); exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Ends a command with a usage error found in its action (options that do not fit together), printed
 * like commander's own: one line with a pointer to the command's --help; exits 2.
 */
export function failUsage(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: 'gofer.usage' });
}

/** A failure with a message already fit for the user; exits 1 unless told otherwise. */
export class CliError extends Error {
  override name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** What to print on stderr, and the exit code, for an error that ended a command. */
export interface ErrorReport {
  message: string;
  exitCode: number;
}

// grpc-js reports failures to connect with these details; a server may also answer UNAVAILABLE itself
// (e.g. its database is down), which deserves its own message.
const CONNECTION_FAILURE = /No connection established|Connection dropped|Name resolution failed|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|Failed to connect/i;

/**
 * Turns an error into the one message the user sees and the exit code. API errors keep the server's
 * message (validation errors arrive one per line and are printed as they come) and add what to do
 * when the status code says more than the message.
 */
export function describeError(err: unknown, host: string): ErrorReport {
  if (err instanceof UsageError) return { message: `error: ${err.message}`, exitCode: EXIT_USAGE };
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof CommanderError) {
    // Commander already printed its message; only the exit code is ours to decide.
    return { message: '', exitCode: err.exitCode === 0 ? EXIT_OK : EXIT_USAGE };
  }
  if (isServiceError(err)) return { message: describeStatus(err.code, err.details, host), exitCode: EXIT_FAILURE };
  const message = err instanceof Error ? err.message : String(err);
  return { message: `unexpected error: ${message} (please report it with the command you ran)`, exitCode: EXIT_FAILURE };
}

function describeStatus(code: number, details: string, host: string): string {
  switch (code) {
    case GrpcStatus.UNAVAILABLE:
      return CONNECTION_FAILURE.test(details) || !details
        ? `cannot reach Gofer at ${host}: is the service running?`
        : `Gofer at ${host} is unavailable: ${details}; try again shortly`;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return `Gofer at ${host} did not answer in time: check the service's health (GET /readyz) and try again`;
    case GrpcStatus.UNAUTHENTICATED:
      return `${details || 'not authenticated'}: set GOFER_TOKEN or --token; the first token comes from: gofer service token bootstrap`;
    case GrpcStatus.PERMISSION_DENIED:
      // The server names what the token lacks (a namespace, or management rights); we say how to check.
      return `${details || 'permission denied'}: see what your token may do with gofer token whoami (switch with --token, --namespace)`;
    case GrpcStatus.UNIMPLEMENTED:
      return `Gofer at ${host} does not support this call (${details}): upgrade the service or use a matching CLI`;
    case GrpcStatus.CANCELLED:
      // The CLI never cancels its own calls: this is the service closing the call (it stopped or restarted).
      return `Gofer at ${host} closed the call (did the service stop or restart?); run the command again`;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      // Our own limits explain themselves; the transport's (message size) need the hint.
      return /GOFER_[A-Z_]+/.test(details) ? details : `${details}: the message is too large or the service is overloaded`;
    default:
      // NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS … : the server's message says it.
      return details || `Gofer returned ${GrpcStatus[code] ?? code} without a message`;
  }
}
