import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { ObjectsRepository, PipelinesRepository, RunRepository, Transactions, type ObjectEntity } from '@gofer/dal';
import type { ObjectStore } from './object-store.js';
import { ObjectStoreError } from './object-store.error.js';
import { ObjectStoreMetrics } from './object-store.metrics.js';
import { OBJECT_STORE } from './object-store.tokens.js';
import { portableSegment } from './storage-key.js';
import { INTERPOLATION_KEY_PATTERN } from '@gofer/pipeline';
import { pipelineLogArchivePrefix } from '@gofer/queue';
import type { Logger } from 'pino';
import { LOGGER } from '@gofer/config';
import { failedPrecondition, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';

/** A pipeline's objects (kept, newest N) or a run's (expire with the run). */
export interface ObjectScope {
  namespaceId: string;
  pipelineId: string;
  /** Absent for a pipeline object. */
  runId?: number;
}

/** Objects named in a task's environment become environment values; this keeps them reasonable. */
const MAX_INTERPOLATED_BYTES = 128 * 1024;

function describeScope(scope: ObjectScope): string {
  return scope.runId ? `run ${scope.runId} of pipeline "${scope.pipelineId}"` : `pipeline "${scope.pipelineId}"`;
}

/**
 * Where one put's content goes: a fresh key per put, so readers of the previous content are undisturbed.
 * A user's key may be 256 bytes, one more than some S3 servers take as a segment, hence portableSegment.
 */
function contentKey(scope: ObjectScope, key: string): string {
  const owner = scope.runId ? `runs/${scope.runId}` : 'pipeline';
  return `objects/${scope.namespaceId}/${scope.pipelineId}/${owner}/${portableSegment(key)}/${randomUUID()}`;
}

/**
 * The object store's metadata side: which objects exist (Postgres), their content (an {@link ObjectStore}:
 * S3 or a directory), eviction of a pipeline's oldest objects past its limit, and expiry of run objects
 * when their run falls out of the last N runs. Content is written under a fresh storage key per put and
 * the old one deleted after the new row commits, so readers never see half an object.
 */
@Injectable()
export class ObjectService {
  constructor(
    private readonly transactions: Transactions,
    private readonly objects: ObjectsRepository,
    private readonly pipelines: PipelinesRepository,
    private readonly runs: RunRepository,
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    @Inject(OBJECT_STORE) store: ObjectStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: EventLog,
    metrics: ObjectStoreMetrics,
  ) {
    // Every backend call of the service goes through here: the one place object store latency is measured.
    this.store = metrics.wrap(store);
  }

  private readonly store: ObjectStore;

  /** Checks a user's object key (they are also `pipeline_object{{KEY}}` / `run_object{{KEY}}` names). */
  static keyProblem(key: string): string | undefined {
    if (!INTERPOLATION_KEY_PATTERN.test(key) || key === '.' || key === '..') {
      return `key: ${JSON.stringify(key.slice(0, 64))} is not a valid object key (1-256 of A-Z a-z 0-9 _ . -, not "." or "..")`;
    }
    return undefined;
  }

  private async requireScope(scope: ObjectScope): Promise<void> {
    if (!(await this.pipelines.exists(scope.namespaceId, scope.pipelineId))) {
      throw notFound(`pipeline "${scope.pipelineId}" not found in namespace "${scope.namespaceId}"`);
    }
    if (scope.runId && !(await this.runs.exists({ namespaceId: scope.namespaceId, pipelineId: scope.pipelineId, runId: scope.runId }))) {
      throw notFound(`run ${scope.runId} of pipeline "${scope.pipelineId}" not found`);
    }
  }

  private where(scope: ObjectScope) {
    return { namespaceId: scope.namespaceId, pipelineId: scope.pipelineId, runId: scope.runId ?? 0 };
  }

  /** Streams `body` into the store and records it; a pipeline keeps its newest objects only. */
  async put(scope: ObjectScope, key: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<{ object: ObjectEntity; evicted: string[] }> {
    const problem = ObjectService.keyProblem(key);
    if (problem) throw invalidArgument(problem);
    await this.requireScope(scope);
    const storageKey = contentKey(scope, key);
    const hash = createHash('sha256');
    const hashed = (async function* () {
      for await (const chunk of body) {
        hash.update(chunk);
        yield chunk;
      }
    })();
    let size: number;
    try {
      ({ size } = await this.store.put(storageKey, hashed, { maxBytes: this.config.objectMaxBytes, signal }));
    } catch (error) {
      if (error instanceof ObjectStoreError && error.kind === 'too_large') {
        throw invalidArgument(`object "${key}" is larger than the limit of ${this.config.objectMaxBytes} bytes (GOFER_OBJECT_MAX_BYTES); nothing was stored`);
      }
      throw error;
    }
    const where = this.where(scope);
    let garbage: string[] = [];
    try {
      const result = await this.transactions.once(async (m) => {
        // The pipeline row serialises puts of one pipeline (eviction counts must not race).
        const pipeline = await this.pipelines.lock(m, scope.namespaceId, scope.pipelineId);
        if (!pipeline) throw notFound(`pipeline "${scope.pipelineId}" was deleted while the object was uploading`);
        const previous = await this.objects.findIn(m, where, key);
        const object = await this.objects.save(m, { ...where, key, size: String(size), sha256: hash.digest('hex'), storageKey, created: new Date() });
        const old = previous ? [previous.storageKey] : [];
        const evicted: ObjectEntity[] = [];
        if (!scope.runId) {
          const kept = await this.objects.findPastNewest(m, where, this.config.pipelineObjectLimit);
          if (kept.length > 0) await this.objects.deleteKeys(m, where, kept.map((o) => o.key));
          evicted.push(...kept);
        }
        await this.events.append(m, {
          kind: 'object_put', namespaceId: scope.namespaceId, pipelineId: scope.pipelineId, runId: scope.runId,
          details: { key, size, scope: scope.runId ? 'run' : 'pipeline', replaced: previous !== null },
        });
        for (const gone of evicted) {
          await this.events.append(m, {
            kind: 'object_evicted', namespaceId: scope.namespaceId, pipelineId: scope.pipelineId,
            details: { key: gone.key, limit: this.config.pipelineObjectLimit },
          });
        }
        return { object, garbage: [...old, ...evicted.map((o) => o.storageKey)], evicted: evicted.map((o) => o.key) };
      });
      garbage = result.garbage;
      this.logger.info({ namespace_id: scope.namespaceId, pipeline_id: scope.pipelineId, run_id: scope.runId, key, size }, 'object stored');
      return { object: result.object, evicted: result.evicted };
    } catch (error) {
      garbage = [storageKey];
      throw error;
    } finally {
      await this.removeContent(garbage);
    }
  }

  async get(scope: ObjectScope, key: string, signal?: AbortSignal): Promise<{ object: ObjectEntity; body: Readable }> {
    const problem = ObjectService.keyProblem(key);
    if (problem) throw invalidArgument(problem);
    const object = await this.objects.find(this.where(scope), key);
    if (!object) {
      await this.requireScope(scope);
      throw notFound(`object "${key}" not found in ${describeScope(scope)}`);
    }
    const content = await this.store.get(object.storageKey, { signal });
    if (!content) throw failedPrecondition(`object "${key}" is recorded but its content is missing from the object store (${this.store.describe()})`);
    return { object, body: content.body };
  }

  async list(scope: ObjectScope): Promise<ObjectEntity[]> {
    await this.requireScope(scope);
    return this.objects.list(this.where(scope));
  }

  async delete(scope: ObjectScope, key: string): Promise<void> {
    const problem = ObjectService.keyProblem(key);
    if (problem) throw invalidArgument(problem);
    const storageKey = await this.transactions.once(async (m) => {
      const object = await this.objects.findIn(m, this.where(scope), key);
      if (!object) throw notFound(`object "${key}" not found in ${describeScope(scope)}`);
      await this.objects.delete(m, this.where(scope), key);
      await this.events.append(m, {
        kind: 'object_deleted', namespaceId: scope.namespaceId, pipelineId: scope.pipelineId, runId: scope.runId, details: { key },
      });
      return object.storageKey;
    });
    await this.removeContent([storageKey]);
  }

  /** Deletes the run objects of runs that fell out of the pipeline's last N runs. */
  async expireRunObjects(namespaceId: string, pipelineId: string, newestRunId: number): Promise<number> {
    const cutoff = newestRunId - this.config.runObjectExpiry;
    if (cutoff < 1) return 0;
    const expired = await this.transactions.once(async (m) => {
      const rows = await this.objects.deleteRunObjectsUpTo(m, namespaceId, pipelineId, cutoff);
      for (const row of rows) {
        await this.events.append(m, { kind: 'object_expired', namespaceId, pipelineId, runId: row.run_id, details: { key: row.key } });
      }
      return rows.map((row) => ({ storageKey: row.storage_key }));
    });
    await this.removeContent(expired.map((row) => row.storageKey));
    return expired.length;
  }

  /** Values of the objects a task's environment names (`pipeline_object{{K}}`, `run_object{{K}}`). */
  async readForInterpolation(scope: Required<ObjectScope>, refs: { pipeline: string[]; run: string[] }): Promise<{
    pipeline: Map<string, string>;
    run: Map<string, string>;
    missing: string[];
  }> {
    const pipeline = new Map<string, string>();
    const run = new Map<string, string>();
    const missing: string[] = [];
    const load = async (where: ObjectScope, keys: string[], into: Map<string, string>, label: string) => {
      if (keys.length === 0) return;
      const rows = await this.objects.findByKeys(this.where(where), keys);
      for (const key of keys) {
        const row = rows.find((r) => r.key === key);
        if (!row) {
          missing.push(`${label} "${key}" does not exist`);
        } else if (Number(row.size) > MAX_INTERPOLATED_BYTES) {
          missing.push(`${label} "${key}" is ${row.size} bytes; objects passed as variables are limited to ${MAX_INTERPOLATED_BYTES}`);
        } else {
          const content = await this.store.get(row.storageKey);
          if (!content) {
            missing.push(`${label} "${key}" has no content in the object store`);
            continue;
          }
          const chunks: Buffer[] = [];
          for await (const chunk of content.body) chunks.push(Buffer.from(chunk as Uint8Array));
          into.set(key, Buffer.concat(chunks).toString('utf8'));
        }
      }
    };
    await load({ namespaceId: scope.namespaceId, pipelineId: scope.pipelineId }, refs.pipeline, pipeline, 'pipeline object');
    await load(scope, refs.run, run, 'run object');
    return { pipeline, run, missing };
  }

  /** Removes the content of a deleted pipeline (objects and archived logs). */
  async removePipelineContent(namespaceId: string, pipelineId: string): Promise<void> {
    for (const prefix of [`objects/${namespaceId}/${pipelineId}/`, pipelineLogArchivePrefix(namespaceId, pipelineId)]) {
      await this.store.deletePrefix(prefix).catch((error: unknown) =>
        this.logger.warn({ err: error, prefix }, 'removing a deleted pipeline\'s content failed; it stays in the object store'),
      );
    }
  }

  private async removeContent(storageKeys: string[]): Promise<void> {
    for (const storageKey of storageKeys) {
      await this.store.delete(storageKey).catch((error: unknown) =>
        this.logger.warn({ err: error, storage_key: storageKey }, 'removing replaced object content failed; it stays in the object store'),
      );
    }
  }
}
