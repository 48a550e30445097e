import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { SecretService } from './secret.service.js';

/** The secret store: sealed pipeline and global secrets (the keyring comes from GOFER_CONFIG). */
@Module({ imports: [DalModule, EventsModule], providers: [SecretService], exports: [SecretService] })
export class SecretsModule {}
