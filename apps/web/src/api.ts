// The web UI's only way to Gofer: the gofer.v1 API on the page's own origin (/rpc, the browser API of
// apps/gofer/src/api/browser-api.ts), with the Connect protocol. The token goes in the `authorization`
// header of each call: never in a URL, a cookie or a log line.
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { Gofer } from '@gofer/proto/es';

export type GoferApi = Client<typeof Gofer>;

/** Where the token lives: the tab's session storage, forgotten when the tab closes or on sign-out. */
const TOKEN_KEY = 'gofer.token';

export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function apiClient(token: string): GoferApi {
  const transport = createConnectTransport({
    baseUrl: `${location.origin}/rpc`,
    useBinaryFormat: true,
    interceptors: [
      (next) => async (request) => {
        request.header.set('authorization', `Bearer ${token}`);
        return next(request);
      },
    ],
  });
  return createClient(Gofer, transport);
}

/** What to tell the user about a failed call: the server's own message, which names the problem. */
export function describeError(error: unknown): string {
  const status = ConnectError.from(error);
  if (status.code === Code.Unauthenticated) return `Not signed in: ${status.rawMessage}`;
  if (status.code === Code.PermissionDenied) return `Not allowed: ${status.rawMessage}`;
  if (status.code === Code.Unavailable) return `Gofer is unavailable: ${status.rawMessage}`;
  return status.rawMessage;
}
