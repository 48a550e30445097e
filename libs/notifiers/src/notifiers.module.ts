import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventsModule } from '@gofer/events';
import { NotifierMetrics } from './notifier.metrics.js';
import { NotifierService } from './notifier.service.js';

/** Installed notifiers and their metrics. Needs GOFER_CONFIG, LOGGER and METRICS_REGISTRY from the application. */
@Module({ imports: [DalModule, EventsModule], providers: [NotifierService, NotifierMetrics], exports: [NotifierService, NotifierMetrics] })
export class NotifiersModule {}
