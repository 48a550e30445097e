import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { ObjectStoreMetrics } from './object-store.metrics.js';
import { ObjectService } from './object.service.js';

/** Pipeline and run objects: their metadata and limits, over the OBJECT_STORE backend the application provides (its calls timed on METRICS_REGISTRY). */
@Module({ imports: [DalModule, EventsModule], providers: [ObjectService, ObjectStoreMetrics], exports: [ObjectService, ObjectStoreMetrics] })
export class ObjectsModule {}
