import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { Agent } from 'undici';

/**
 * How Gofer checks Nomad's certificate and proves itself to Nomad: the `GOFER_NOMAD_*` mirrors of
 * Nomad's own `NOMAD_CACERT`, `NOMAD_CLIENT_CERT`, `NOMAD_CLIENT_KEY`, `NOMAD_TLS_SERVER_NAME` and
 * `NOMAD_SKIP_VERIFY`. File settings are paths to PEM files.
 */
export interface NomadTlsOptions {
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  serverName?: string;
  skipVerify?: boolean;
}

/**
 * The undici dispatcher that carries `tls` to Nomad (for `NomadClientOptions.dispatcher`), or
 * undefined when nothing is set: Node's global dispatcher then applies (the system's CAs, plus
 * `NODE_EXTRA_CA_CERTS`).
 *
 * The files are read, and checked to make a TLS context, here, once: a missing file or a key that does not
 * match its certificate stops startup with a message naming the variable, instead of failing every
 * request later. An `Agent` from the `undici` package rather than Node's bundled copy (which Node does
 * not export): `fetch` takes only a dispatcher of its own undici major, hence the exact pin in package.json.
 *
 * @throws Error naming the variable and path of a file that cannot be read or used.
 */
export function nomadTlsDispatcher(tls: NomadTlsOptions): Agent | undefined {
  const { caCert, clientCert, clientKey, serverName, skipVerify = false } = tls;
  if (!caCert && !clientCert && !clientKey && !serverName && !skipVerify) return undefined;
  const ca = caCert ? readPem('GOFER_NOMAD_CACERT', caCert) : undefined;
  const cert = clientCert ? readPem('GOFER_NOMAD_CLIENT_CERT', clientCert) : undefined;
  const key = clientKey ? readPem('GOFER_NOMAD_CLIENT_KEY', clientKey) : undefined;
  try {
    createSecureContext({ ca, cert, key });
  } catch (error) {
    const files = [
      caCert && `GOFER_NOMAD_CACERT="${caCert}"`,
      clientCert && `GOFER_NOMAD_CLIENT_CERT="${clientCert}"`,
      clientKey && `GOFER_NOMAD_CLIENT_KEY="${clientKey}"`,
    ].filter(Boolean);
    throw new Error(`Nomad TLS files do not make a TLS context (${files.join(', ')}): ${(error as Error).message}`, { cause: error });
  }
  return new Agent({ connect: { ca, cert, key, servername: serverName || undefined, rejectUnauthorized: !skipVerify } });
}

/** A PEM file's text. @throws Error naming `variable` and `path` when it cannot be read or holds no PEM block. */
function readPem(variable: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`cannot read ${variable}="${path}": ${reason}`, { cause: error });
  }
  if (!text.includes('-----BEGIN ')) throw new Error(`${variable}="${path}" is not a PEM file (no -----BEGIN line)`);
  return text;
}
