import { Command, Option } from 'commander';
import { CliContext, DEFAULT_HOST, DEFAULT_NAMESPACE, resolveGlobals, type CliIo, type ContextFor } from './context.js';
import { GOFER_VERSION } from '../version.js';
import { describeError, EXIT_OK } from './errors.js';
import { eventCommand } from './event.command.js';
import { namespaceCommand } from './namespace.command.js';
import { notifierCommand } from './notifier.command.js';
import { pipelineCommand } from './pipeline.command.js';
import { runCommand } from './run.command.js';
import { secretCommand } from './secret.command.js';
import { serviceCommand } from './service.command.js';
import { taskRunCommand } from './taskrun.command.js';
import { tokenCommand } from './token.command.js';
import { triggerCommand } from './trigger.command.js';

/** Builds the `gofer` command tree. Actions get their context (flags, client, output) from `contextFor`. */
export function buildProgram(io: CliIo, contextFor: ContextFor): Command {
  const program = new Command('gofer')
    .description('Gofer: run pipelines of containers (DAGs of tasks) on Docker or Nomad')
    .version(GOFER_VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--host <HOST:PORT>', `Gofer API address (env GOFER_HOST, default ${DEFAULT_HOST})`))
    .addOption(new Option('--token <TOKEN>', 'API token (env GOFER_TOKEN)'))
    .addOption(new Option('-n, --namespace <ID>', `namespace (env GOFER_NAMESPACE, default "${DEFAULT_NAMESPACE}")`))
    .addOption(
      new Option('-o, --output <FORMAT>', 'plain or json (env GOFER_OUTPUT, default plain)').choices(['plain', 'json']),
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 API error or failed run, 2 usage error.

Examples:
  $ gofer service start                      the service, API and workers in one process
  $ gofer pipeline apply hello.yaml          create or update a pipeline
  $ gofer pipeline run hello --wait          run it and wait for the summary
  $ gofer run list hello --output json
  $ gofer taskrun logs hello 1 greet --follow
  $ export GOFER_TOKEN=$(gofer service token bootstrap)   the first token of a new service
  $ gofer event list --follow`,
    )
    .addCommand(serviceCommand(contextFor))
    .addCommand(pipelineCommand(contextFor))
    .addCommand(runCommand(contextFor))
    .addCommand(taskRunCommand(contextFor))
    .addCommand(secretCommand(contextFor))
    .addCommand(namespaceCommand(contextFor))
    .addCommand(tokenCommand(contextFor))
    .addCommand(triggerCommand(contextFor))
    .addCommand(notifierCommand(contextFor))
    .addCommand(eventCommand(contextFor));

  configureTree(program, io);
  return program;
}

/** Every command: throw instead of exiting (we pick exit codes), write through `io`, one-line errors. */
function configureTree(command: Command, io: CliIo): void {
  const path = commandPath(command);
  command
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      getOutHelpWidth: () => io.stdout.columns ?? 100,
      getErrHelpWidth: () => io.stderr.columns ?? 100,
      outputError: (text, write) => write(`${text.trim().replace(/\s*\n\s*/g, ' ')} (see: ${path} --help)\n`),
    });
  for (const sub of command.commands) configureTree(sub, io);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}

/**
 * Runs the `gofer` command line and returns the exit code (0 ok, 1 API/run failure, 2 usage error),
 * having printed any error as one message on stderr. Never calls `process.exit`.
 *
 * @param argv the arguments after the program name
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let context: CliContext | undefined;
  const contextFor: ContextFor = (command) =>
    (context ??= new CliContext(io, resolveGlobals(command.optsWithGlobals(), io.env)));
  const program = buildProgram(io, contextFor);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    const report = describeError(err, context?.globals.host ?? io.env.GOFER_HOST ?? DEFAULT_HOST);
    if (report.message) io.stderr.write(`${report.message}\n`);
    return report.exitCode;
  } finally {
    context?.close();
  }
}
