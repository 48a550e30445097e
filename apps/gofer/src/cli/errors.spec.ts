import { CommanderError } from 'commander';
import { GrpcStatus } from '@gofer/proto';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CliError, describeError, EXIT_FAILURE, EXIT_USAGE, UsageError } from './errors.js';

function grpcError(code: GrpcStatus, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${GrpcStatus[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

const HOST = '127.0.0.1:8080';

describe('describeError', () => {
  it('says what to do when nothing listens', () => {
    const err = grpcError(GrpcStatus.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:8080');
    expect(describeError(err, HOST)).toEqual({
      message: 'cannot reach Gofer at 127.0.0.1:8080: is the service running?',
      exitCode: EXIT_FAILURE,
    });
  });

  it('keeps the server reason when the server itself is unavailable', () => {
    const { message } = describeError(grpcError(GrpcStatus.UNAVAILABLE, 'postgres is not reachable'), HOST);
    expect(message).toBe('Gofer at 127.0.0.1:8080 is unavailable: postgres is not reachable; try again shortly');
  });

  it('prints NOT_FOUND and INVALID_ARGUMENT messages as they come, all lines', () => {
    expect(describeError(grpcError(GrpcStatus.NOT_FOUND, 'pipeline "nope" not found'), HOST).message).toBe(
      'pipeline "nope" not found',
    );
    const validation = 'tasks[3].depends_on.buidl: unknown task "buidl"\ntasks[0].image: required';
    expect(describeError(grpcError(GrpcStatus.INVALID_ARGUMENT, validation), HOST)).toEqual({
      message: validation,
      exitCode: EXIT_FAILURE,
    });
  });

  it('says the service closed the call (it stopped or restarted) and to run the command again', () => {
    expect(describeError(grpcError(GrpcStatus.CANCELLED, 'Call cancelled'), HOST).message).toBe(
      'Gofer at 127.0.0.1:8080 closed the call (did the service stop or restart?); run the command again',
    );
  });

  it("keeps Gofer's own limit messages, and explains the transport's", () => {
    const limit = 'this API process already follows 256 logs (GOFER_MAX_LOG_FOLLOWERS); try again, or read without --follow';
    expect(describeError(grpcError(GrpcStatus.RESOURCE_EXHAUSTED, limit), HOST).message).toBe(limit);
    expect(describeError(grpcError(GrpcStatus.RESOURCE_EXHAUSTED, 'Received message larger than max'), HOST).message).toBe(
      'Received message larger than max: the message is too large or the service is overloaded',
    );
  });

  it('says where tokens come from when the call is not authenticated', () => {
    expect(describeError(grpcError(GrpcStatus.UNAUTHENTICATED, 'missing token'), HOST)).toEqual({
      message: 'missing token: set GOFER_TOKEN or --token; the first token comes from: gofer service token bootstrap',
      exitCode: EXIT_FAILURE,
    });
  });

  it("keeps the server's namespace reason when permission is denied, and says how to check the token", () => {
    const { message } = describeError(grpcError(GrpcStatus.PERMISSION_DENIED, 'token tok-3 may not use namespace "team-b"'), HOST);
    expect(message).toBe(
      'token tok-3 may not use namespace "team-b": see what your token may do with gofer token whoami (switch with --token, --namespace)',
    );
    expect(message.split('\n')).toHaveLength(1);
  });

  it('maps usage errors to exit 2 and commander help to exit 0', () => {
    expect(describeError(new UsageError('bad'), HOST)).toEqual({ message: 'error: bad', exitCode: EXIT_USAGE });
    expect(describeError(new CommanderError(1, 'commander.unknownOption', 'x'), HOST)).toEqual({
      message: '',
      exitCode: EXIT_USAGE,
    });
    expect(describeError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), HOST).exitCode).toBe(0);
  });

  it('passes CLI errors through with their exit code', () => {
    expect(describeError(new CliError('stopped waiting', 130), HOST)).toEqual({ message: 'stopped waiting', exitCode: 130 });
  });

  it('labels anything else as unexpected', () => {
    expect(describeError(new TypeError('x is undefined'), HOST).message).toMatch(/^unexpected error: x is undefined/);
  });
});
