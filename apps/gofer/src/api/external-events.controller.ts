import { Controller, HttpStatus, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Authorize } from '@gofer/auth';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import { GoferError } from '@gofer/errors';
import { EXTENSION_NAME, isValidId } from '@gofer/pipeline';
import { TriggerService } from '@gofer/triggers';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';

/**
 * Webhooks: `POST /api/external/<trigger>` forwards the request, byte for byte, to the installed
 * trigger's ExternalEvent, and answers with the trigger's status and message. The route reads no API
 * token (policy `webhook`): the trigger verifies the request itself, e.g. the github trigger checks
 * X-Hub-Signature-256 and answers 401. A body over GOFER_WEBHOOK_MAX_BYTES is refused with 413 as soon
 * as its Content-Length (or its bytes so far) says so, never buffered whole; an unknown trigger gets
 * 404 before any of the body is read, and past MAX_WEBHOOKS_IN_FLIGHT bodies at once, 503.
 */
/** Webhook bodies read at once per process; more get 503 (each may hold GOFER_WEBHOOK_MAX_BYTES). */
const MAX_WEBHOOKS_IN_FLIGHT = 32;

type Answer = (status: number, message: string) => void;

/** How long a refused request's remaining body is drained before its connection is dropped. */
const LINGER_MS = 1000;

@Controller('api/external')
export class ExternalEventsController {
  private inFlight = 0;

  constructor(
    private readonly triggers: TriggerService,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Authorize('webhook')
  @Post(':trigger')
  async receive(@Param('trigger') trigger: string, @Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    const answer: Answer = (status, message) => {
      if (response.headersSent) return;
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message }));
    };
    // Refused without reading the body: the connection closes after the answer. What the client still
    // sends is read and dropped for a moment first ("lingering close"): closing a socket with unread
    // data resets it, and a reset can destroy the answer before the client has read it.
    const refuse: Answer = (status, message) => {
      response.setHeader('connection', 'close');
      response.once('finish', () => {
        request.resume();
        setTimeout(() => request.destroy(), LINGER_MS).unref();
      });
      answer(status, message);
    };
    if (!isValidId(EXTENSION_NAME, trigger) || !(await this.triggers.exists(trigger))) {
      return refuse(HttpStatus.NOT_FOUND, `no trigger "${trigger.slice(0, 64)}" is installed`);
    }
    // Each body in flight may take GOFER_WEBHOOK_MAX_BYTES of memory: at most this many at once.
    if (this.inFlight >= MAX_WEBHOOKS_IN_FLIGHT) {
      response.setHeader('retry-after', '1');
      return refuse(HttpStatus.SERVICE_UNAVAILABLE, `too many webhooks in flight (${MAX_WEBHOOKS_IN_FLIGHT}); try again`);
    }
    this.inFlight++;
    try {
      await this.forward(trigger, request, answer, refuse);
    } finally {
      this.inFlight--;
    }
  }

  /** Reads the body within its limit and relays it to the trigger; `refuse` answers and closes the connection. */
  private async forward(trigger: string, request: IncomingMessage, answer: Answer, refuse: Answer): Promise<void> {
    const limit = this.config.webhookMaxBytes;
    let payload: Buffer;
    try {
      const length = request.headers['content-length'];
      payload = await getRawBody(request, { limit, length: length !== undefined ? Number(length) : undefined });
    } catch (error) {
      const type = (error as { type?: string }).type;
      // Read no more of an oversized body: the connection closes once the answer is out (closing it
      // sooner could drop the answer).
      if (type === 'entity.too.large') return refuse(HttpStatus.PAYLOAD_TOO_LARGE, `the body is larger than ${limit} bytes (GOFER_WEBHOOK_MAX_BYTES)`);
      return answer(HttpStatus.BAD_REQUEST, `could not read the body: ${(error as Error).message}`);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    try {
      const result = await this.triggers.externalEvent(trigger, { payload, headers, method: request.method ?? 'POST' });
      const status = Number.isInteger(result.status) && result.status >= 200 && result.status <= 599 ? result.status : HttpStatus.BAD_GATEWAY;
      answer(status, result.message);
    } catch (error) {
      if (error instanceof GoferError && error.code === 'not_found') return answer(HttpStatus.NOT_FOUND, error.message);
      this.logger.warn({ err: error, trigger }, 'webhook could not be forwarded to its trigger');
      answer(HttpStatus.SERVICE_UNAVAILABLE, error instanceof GoferError ? error.message : 'the trigger could not be reached');
    }
  }
}
