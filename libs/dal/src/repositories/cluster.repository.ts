import { Inject, Injectable } from '@nestjs/common';
import { IsNull, type DataSource } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { ClusterEntity } from '../entities/cluster.entity.js';

/** The `cluster` table: its one row (singleton 1), this cluster's identity and key canary. */
@Injectable()
export class ClusterRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** The cluster's row (migrations create it, so it always exists). */
  async get(): Promise<ClusterEntity> {
    return this.db.manager.findOneByOrFail(ClusterEntity, { singleton: 1 });
  }

  /** This cluster's id (its containers carry it as label `gofer.cluster`). */
  async id(): Promise<string> {
    return (await this.get()).id;
  }

  /** Stores the key canary unless one is stored already (the first start with a key). */
  async setKeyCanaryIfUnset(canary: string): Promise<void> {
    await this.db.manager.update(ClusterEntity, { singleton: 1, keyCanary: IsNull() }, { keyCanary: canary });
  }

  /** Replaces the key canary (after a key rotation). */
  async setKeyCanary(canary: string): Promise<void> {
    await this.db.manager.update(ClusterEntity, { singleton: 1 }, { keyCanary: canary });
  }
}
