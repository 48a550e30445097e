import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { ConfigParser } from './config-parser.js';
import { NamespaceService } from './namespace.service.js';
import { PipelineService } from './pipeline.service.js';

/** What exists: namespaces, pipelines and their config versions. */
@Module({
  imports: [DalModule, EventsModule],
  providers: [NamespaceService, PipelineService, ConfigParser],
  exports: [NamespaceService, PipelineService, ConfigParser],
})
export class CatalogModule {}
