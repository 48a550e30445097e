import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { parsePipelineConfig, type ParsePipelineConfigOptions, type ParseResult } from '@gofer/pipeline';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import { LOGGER } from '@gofer/config';
import { GoferError } from '@gofer/errors';

/** Configs up to this size are parsed on the calling thread: a few milliseconds at most. */
const INLINE_BYTES = 32 * 1024;
/** Large configs waiting for the parser thread; past this, applying one is refused for now. */
const MAX_QUEUED = 32;
/** The compiled worker; absent when the code runs from TypeScript source (tests), which parse inline. */
const WORKER_FILE = fileURLToPath(new URL('./config-parse.worker.js', import.meta.url));

/**
 * Parses and validates pipeline configs without stalling the process: validation work is bounded, but
 * a 1 MiB YAML document still takes the `yaml` library about a second, during which an API process
 * would answer nothing else. Large configs are parsed on one worker thread (so a burst of them uses one
 * core, not all), small ones inline.
 */
@Injectable()
export class ConfigParser implements OnModuleDestroy {
  private pool: Piscina | undefined;
  private readonly useWorker = existsSync(WORKER_FILE);

  constructor(@Optional() @Inject(LOGGER) logger?: Logger) {
    // Compiled code without its worker (an unusual bundle) still works, but says what it gave up.
    if (!this.useWorker && import.meta.url.endsWith('.js')) {
      logger?.warn({ worker: WORKER_FILE }, 'config parser worker not found; large configs are parsed on the main thread');
    }
  }

  async parse(raw: Uint8Array, options: ParsePipelineConfigOptions = {}): Promise<ParseResult> {
    if (raw.byteLength <= INLINE_BYTES || !this.useWorker) return parsePipelineConfig(raw, options);
    this.pool ??= new Piscina({ filename: WORKER_FILE, minThreads: 0, maxThreads: 1, idleTimeout: 60_000, maxQueue: MAX_QUEUED });
    if (this.pool.queueSize >= MAX_QUEUED) {
      throw new GoferError('resource_exhausted', `${MAX_QUEUED} large configs are already waiting to be validated on this API process; try again shortly`);
    }
    return this.pool.run({ raw, options });
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool?.destroy();
  }
}
