import { Module } from '@nestjs/common';
import { DalModule } from '@gofer/dal';
import { EventLog } from './event-log.service.js';

/** The event log (needs GOFER_CONFIG and the data source, provided globally by the application). */
@Module({ imports: [DalModule], providers: [EventLog], exports: [EventLog] })
export class EventsModule {}
