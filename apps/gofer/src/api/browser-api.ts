import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DescMethod } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type CallOptions, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { Http2SessionManager, connectNodeAdapter, createGrpcTransport } from '@connectrpc/connect-node';
import { splitAddress } from '@gofer/config';
import { MAX_RECEIVE_MESSAGE_BYTES } from '@gofer/proto';
import { Gofer } from '@gofer/proto/es';

/** Where the browser API is served on the HTTP port: `POST /rpc/gofer.v1.Gofer/<Method>`. */
export const BROWSER_API_PREFIX = '/rpc';

/** The request headers a browser call carries on to the gRPC server: the token, nothing else. */
const FORWARDED_HEADERS = ['authorization'] as const;

/**
 * The `gofer.v1` API for browsers (the web UI): the same service the CLI calls, served on the HTTP
 * port under {@link BROWSER_API_PREFIX} with the Connect protocol and gRPC-Web, over HTTP/1.1 or
 * HTTP/2, unary calls and server streams alike.
 *
 * Nothing is answered here: each call is forwarded, with its `authorization` header, to this
 * process's own gRPC server, so the gRPC edge's authorization guard and per-handler policies, its
 * limits, metrics and error mapping apply to a browser's call exactly as to the CLI's, and an error
 * reaches the browser with the gRPC status code and message the CLI would get. Client-streaming calls
 * (object uploads) are refused: neither protocol can stream a request body from a browser over HTTP/1.1.
 */
export class BrowserApi {
  private readonly sessions: Http2SessionManager;
  private readonly handler: (req: IncomingMessage, res: ServerResponse) => void;

  constructor(grpcAddr: string) {
    const { host, port } = splitAddress(grpcAddr);
    // A wildcard listen address is dialled on loopback; anything else as configured.
    const dialHost = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' || host === '[::]' ? '[::1]' : host;
    const baseUrl = `http://${dialHost}:${port}`;
    this.sessions = new Http2SessionManager(baseUrl);
    const transport = createGrpcTransport({
      baseUrl,
      sessionManager: this.sessions,
      readMaxBytes: MAX_RECEIVE_MESSAGE_BYTES,
      writeMaxBytes: MAX_RECEIVE_MESSAGE_BYTES,
    });
    const client = createClient(Gofer, transport) as unknown as Record<string, (request: unknown, options: CallOptions) => unknown>;
    const routes = (router: ConnectRouter) => {
      const impl: Record<string, unknown> = {};
      for (const method of Gofer.methods) impl[method.localName] = forward(method, client);
      router.service(Gofer, impl);
    };
    this.handler = connectNodeAdapter({
      routes,
      requestPathPrefix: BROWSER_API_PREFIX,
      // The same cap as a gRPC message; larger bodies are refused before they are read whole.
      readMaxBytes: MAX_RECEIVE_MESSAGE_BYTES,
      writeMaxBytes: MAX_RECEIVE_MESSAGE_BYTES,
      grpc: false, // gRPC clients use the gRPC port
    });
  }

  /** Express middleware: serves `/rpc/…`, passes everything else on. */
  middleware(): (req: IncomingMessage & { route?: { path?: string } }, res: ServerResponse, next: () => void) => void {
    return (req, res, next) => {
      if (!req.url?.startsWith(`${BROWSER_API_PREFIX}/`)) return next();
      req.route = { path: `${BROWSER_API_PREFIX}/:method` }; // the HTTP metrics' route label
      this.handler(req, res);
    };
  }

  /** Closes the connection to the gRPC server (calls still in flight end with it). */
  close(): void {
    this.sessions.abort();
  }
}

/** The handler of one method: the same call on the local gRPC server, with the caller's token. */
function forward(method: DescMethod, client: Record<string, (request: unknown, options: CallOptions) => unknown>) {
  const call = client[method.localName]!;
  const options = (context: HandlerContext): CallOptions => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = context.requestHeader.get(name);
      if (value !== null) headers[name] = value;
    }
    const timeoutMs = context.timeoutMs();
    return { headers, signal: context.signal, ...(timeoutMs !== undefined && { timeoutMs }) };
  };
  switch (method.methodKind) {
    case 'unary':
      return async (request: unknown, context: HandlerContext) => {
        try {
          return await call(request, options(context));
        } catch (error) {
          throw statusOnly(error);
        }
      };
    case 'server_streaming':
      return async function* (request: unknown, context: HandlerContext) {
        try {
          yield* call(request, options(context)) as AsyncIterable<unknown>;
        } catch (error) {
          throw statusOnly(error);
        }
      };
    default:
      return () => {
        throw new ConnectError(
          `${method.name} streams its request, which browsers cannot do over HTTP/1.1: use the gofer CLI or a gRPC client`,
          Code.Unimplemented,
        );
      };
  }
}

/**
 * The gRPC server's error as the browser should see it: its code and message only. The error a
 * Connect client raises carries the gRPC response's headers and trailers (`content-type:
 * application/grpc`, `grpc-status`, …), which the Connect server would otherwise copy onto its own
 * answer and make it unreadable to a Connect client.
 */
function statusOnly(error: unknown): ConnectError {
  const status = ConnectError.from(error);
  return new ConnectError(status.rawMessage, status.code);
}
