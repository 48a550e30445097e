import { Inject, Injectable } from '@nestjs/common';
import { NamespacesRepository, PipelinesRepository, Transactions, type NamespaceEntity } from '@gofer/dal';
import type { Logger } from 'pino';
import { LOGGER } from '@gofer/config';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { idProblem, NAMESPACE_ID } from '@gofer/pipeline';

/** Namespaces: every pipeline, run, object and secret lives in exactly one. */
@Injectable()
export class NamespaceService {
  constructor(
    private readonly transactions: Transactions,
    private readonly namespaces: NamespacesRepository,
    private readonly pipelines: PipelinesRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: EventLog,
  ) {}

  async create(id: string, name: string, description: string): Promise<NamespaceEntity> {
    const idWrong = idProblem(NAMESPACE_ID, 'id', id, { what: NAMESPACE_ID.name });
    const problems: string[] = idWrong ? [idWrong] : [];
    if (name.length > 128) problems.push('name: at most 128 characters');
    if (description.length > 1024) problems.push('description: at most 1024 characters');
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    return this.transactions.once(async (m) => {
      const now = new Date();
      const inserted = await this.namespaces.insertIfAbsent(m, { id, name: name || id, description, created: now });
      if (!inserted) throw alreadyExists(`namespace "${id}" already exists`);
      await this.events.append(m, { kind: 'namespace_created', namespaceId: id });
      this.logger.info({ namespace_id: id }, 'namespace created');
      return this.namespaces.getIn(m, id);
    });
  }

  async get(id: string): Promise<NamespaceEntity> {
    const namespace = await this.namespaces.find(id);
    if (!namespace) throw notFound(`namespace "${id}" not found`);
    return namespace;
  }

  async list(): Promise<NamespaceEntity[]> {
    return this.namespaces.list();
  }

  /**
   * Deletes a namespace. Refused while it holds pipelines unless `force`, which deletes them with their
   * runs, objects and secrets (refused while any of their runs is unfinished). Returns the deleted
   * pipelines, whose objects' and logs' content the caller removes from the object store.
   */
  async delete(id: string, force: boolean): Promise<string[]> {
    if (id === 'default') throw failedPrecondition('the default namespace cannot be deleted (clients use it when they name none)');
    const deleted = await this.transactions.once(async (m) => {
      const namespace = await this.namespaces.lock(m, id);
      if (!namespace) throw notFound(`namespace "${id}" not found`);
      const pipelines = await this.pipelines.lockAllOf(m, id);
      if (pipelines.length > 0 && !force) {
        throw failedPrecondition(
          `namespace "${id}" holds ${pipelines.length} pipeline(s) (${pipelines.slice(0, 5).map((p) => p.id).join(', ')}${pipelines.length > 5 ? ', …' : ''}); delete them first, or delete with --force`,
        );
      }
      const unfinished = await this.pipelines.countUnfinishedRuns(m, id);
      if (unfinished > 0) throw failedPrecondition(`namespace "${id}" has ${unfinished} unfinished run(s); cancel them first`);
      await this.pipelines.delete(m, id); // with their secrets; configs, runs, task runs and objects cascade
      await this.namespaces.delete(m, id);
      await this.events.append(m, { kind: 'namespace_deleted', namespaceId: id, details: { pipelines: pipelines.map((p) => p.id) } });
      return pipelines.map((p) => p.id);
    });
    this.logger.info({ namespace_id: id, force }, 'namespace deleted');
    return deleted;
  }
}
