import { Module } from '@nestjs/common';
import { EventsModule } from '@gofer/events';
import { TokenService } from './token.service.js';

/** Tokens, principals and their policy checks. */
@Module({ imports: [EventsModule], providers: [TokenService], exports: [TokenService] })
export class AuthModule {}
