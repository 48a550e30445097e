import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { TokensRepository, Transactions, type EntityManager, type TokenEntity, type TokenKind } from '@gofer/dal';
import type { Logger } from 'pino';
import { RE2JS } from 're2js';
import { LOGGER } from '@gofer/config';
import { failedPrecondition, invalidArgument, notFound, permissionDenied, unauthenticated } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { isValidId, NAMESPACE_ID } from '@gofer/pipeline';

/** Who is calling: the token a request carried, once verified. */
export interface Principal {
  tokenId: string;
  kind: TokenKind;
  /** Namespace patterns of a client token (exact names or `/regular expressions/`). */
  namespaces: string[];
  /** Set for a `run` token, injected into a run's tasks (`inject_api_token`): the run it is confined to. */
  run?: { namespaceId: string; pipelineId: string; runId: number };
}

export interface NewToken {
  kind: TokenKind;
  namespaces?: string[];
  metadata?: Record<string, string>;
  expiresInSeconds?: number;
}

const SECRET_PREFIX = 'gofer_';
const MAX_PATTERNS = 64;
const MAX_PATTERN_LENGTH = 128;
const MAX_METADATA = 32;
const MAX_LIFETIME_SECONDS = 100 * 365 * 24 * 3600;
/** Verified tokens are remembered this long; a token deleted or disabled on another replica may be honoured that long. */
const CACHE_MS = 2000;

/**
 * API tokens: issued with a random secret shown once, stored as its SHA-256 (a 256-bit random secret
 * needs no slow hash), checked on every call. `management` tokens may do everything; `client` tokens
 * only act in the namespaces they list.
 */
@Injectable()
export class TokenService {
  private readonly cache = new Map<string, { principal: Principal; expires: number | null; until: number }>();
  private readonly lookups = new Map<string, Promise<TokenEntity | null>>();

  constructor(
    private readonly transactions: Transactions,
    private readonly tokens: TokensRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: EventLog,
  ) {}

  /** Issues the first management token; refused once one was ever issued this way. */
  async bootstrap(): Promise<{ token: TokenEntity; secret: string }> {
    return this.transactions.once(async (m) => {
      if (!(await this.tokens.claimBootstrap(m))) {
        throw failedPrecondition('the bootstrap token was already issued; ask a holder of a management token for a token (gofer token create)');
      }
      const issued = await this.insert(m, { kind: 'management', metadata: { bootstrap: 'true' } });
      this.logger.info({ token_id: issued.token.id }, 'bootstrap token issued');
      return issued;
    });
  }

  async create(spec: NewToken & { kind: 'management' | 'client' }): Promise<{ token: TokenEntity; secret: string }> {
    return this.transactions.once((m) => this.insert(m, spec));
  }

  /**
   * Issues the token injected into a task of a run (`inject_api_token`): kind `run`, confined to that
   * run (see {@link RUN_TOKEN_SCOPES}), deleted when the run completes.
   */
  async createForRun(run: NonNullable<Principal['run']>, metadata: Record<string, string>): Promise<{ token: TokenEntity; secret: string }> {
    return this.transactions.once((m) => this.insert(m, { kind: 'run', namespaces: [run.namespaceId], metadata }, run));
  }

  private async insert(m: EntityManager, spec: NewToken, run?: Principal['run']): Promise<{ token: TokenEntity; secret: string }> {
    const namespaces = spec.kind === 'management' ? [] : (spec.namespaces ?? []);
    const problems = [...validateNamespacePatterns(namespaces), ...validateMetadata(spec.metadata ?? {})];
    if (spec.kind === 'client' && namespaces.length === 0) problems.push('namespaces: a client token needs at least one namespace');
    const expiresIn = spec.expiresInSeconds ?? 0;
    if (!Number.isSafeInteger(expiresIn) || expiresIn < 0) problems.push(`expires_in_seconds: ${expiresIn} is not a number of seconds`);
    else if (expiresIn > MAX_LIFETIME_SECONDS) problems.push(`expires_in_seconds: at most ${MAX_LIFETIME_SECONDS} (100 years); 0 means never`);
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    const secret = `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
    const token = await this.tokens.insert(m, {
      id: `tok_${randomBytes(8).toString('hex')}`, // TOKEN_ID in libs/pipeline/src/ids.ts
      hash: hashSecret(secret),
      kind: spec.kind,
      namespaces,
      metadata: spec.metadata ?? {},
      created: new Date(),
      expires: expiresIn > 0 ? new Date(Date.now() + expiresIn * 1000) : null,
      disabled: false,
      runNamespaceId: run?.namespaceId ?? null,
      runPipelineId: run?.pipelineId ?? null,
      runId: run?.runId ?? null,
    });
    await this.events.append(m, { kind: 'token_created', details: { token_id: token.id, token_kind: token.kind, namespaces } });
    return { token, secret };
  }

  /** Verifies a bearer secret; UNAUTHENTICATED says what is wrong and how to get a token. */
  async authenticate(secret: string | undefined): Promise<Principal> {
    if (!secret) {
      throw unauthenticated('this call needs an API token (metadata "authorization: Bearer <token>")');
    }
    if (!secret.startsWith(SECRET_PREFIX) || secret.length > 200) throw unauthenticated('the API token is malformed: it is not a Gofer token');
    const hash = hashSecret(secret).toString('hex');
    const now = Date.now();
    let cached = this.cache.get(hash);
    if (!cached || cached.until < now) {
      // Calls and stream re-checks arriving together with one token share one lookup.
      let lookup = this.lookups.get(hash);
      if (!lookup) {
        lookup = this.tokens.findByHash(hashSecret(secret)).finally(() => this.lookups.delete(hash));
        this.lookups.set(hash, lookup);
      }
      const row = await lookup;
      if (!row) throw unauthenticated('the API token is not known (deleted, or from another Gofer cluster)');
      if (row.disabled) throw unauthenticated(`API token ${row.id} is disabled; a management token can enable it (gofer token enable ${row.id})`);
      cached = { principal: toPrincipal(row), expires: row.expires?.getTime() ?? null, until: now + CACHE_MS };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, cached);
    }
    if (cached.expires !== null && cached.expires <= now) {
      throw unauthenticated(`API token ${cached.principal.tokenId} expired at ${new Date(cached.expires).toISOString()}`);
    }
    return cached.principal;
  }

  async list(): Promise<TokenEntity[]> {
    return this.tokens.list();
  }

  async get(id: string): Promise<TokenEntity> {
    const token = await this.tokens.find(id);
    if (!token) throw notFound(`token "${id}" not found`);
    return token;
  }

  async delete(id: string): Promise<void> {
    await this.transactions.once(async (m) => {
      if (!(await this.tokens.delete(m, id))) throw notFound(`token "${id}" not found`);
      await this.events.append(m, { kind: 'token_deleted', details: { token_id: id } });
    });
    this.cache.clear();
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    await this.transactions.once(async (m) => {
      if (!(await this.tokens.setDisabled(m, id, disabled))) throw notFound(`token "${id}" not found`);
      await this.events.append(m, { kind: disabled ? 'token_disabled' : 'token_enabled', details: { token_id: id } });
    });
    this.cache.clear();
  }
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

function toPrincipal(row: TokenEntity): Principal {
  return {
    tokenId: row.id,
    // A token recorded for a run is confined to it, whatever kind an older release gave it.
    kind: row.runId !== null ? 'run' : row.kind,
    namespaces: row.namespaces,
    run: row.runId !== null ? { namespaceId: row.runNamespaceId!, pipelineId: row.runPipelineId!, runId: row.runId } : undefined,
  };
}

/** Whether a principal may act in a namespace: management tokens anywhere, client tokens where a pattern matches. */
export function mayUseNamespace(principal: Principal, namespace: string): boolean {
  if (principal.kind === 'management') return true;
  return principal.namespaces.some((pattern) => namespaceMatches(pattern, namespace));
}

/** What a pattern refused by RE2 says about itself; such a pattern matches nothing. */
interface Refused {
  error: string;
}
/** Compiled `/re/` patterns, or why RE2 refused them (tokens are few; their patterns are checked on every call). */
const compiled = new Map<string, RE2JS | Refused>();

function isRegexPattern(pattern: string): boolean {
  return pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/');
}

/**
 * `/re/` patterns run on RE2 (re2js, a port of Go's regexp), whose matching takes time linear in the
 * input whatever the pattern: a token's pattern cannot stall the process by backtracking, as
 * `/(a+)+$/` did with JavaScript's RegExp. RE2 has no lookaround or backreferences.
 */
function compilePattern(pattern: string): RE2JS | Refused {
  let entry = compiled.get(pattern);
  if (entry === undefined) {
    const unportable = notPortable(pattern.slice(1, -1));
    try {
      entry = unportable ? { error: unportable } : RE2JS.compile(pattern.slice(1, -1));
    } catch (error) {
      entry = { error: (error as Error).message.replace(/^error parsing regexp: /, '') };
    }
    if (compiled.size >= 10_000) compiled.clear();
    compiled.set(pattern, entry);
  }
  return entry;
}

/** Escapes that mean the same to RE2 and to JavaScript's RegExp (which read the patterns of earlier releases). */
const PORTABLE_ESCAPE = /^[dDwWsStnrfv.\-\\/^$*+?()[\]{}|]$/;

/**
 * Why a pattern could mean something else to RE2 than to JavaScript's RegExp, which earlier releases
 * matched with: `[[:alpha:]]` and `\pL` are letter classes to RE2 but literal characters to JavaScript,
 * `\A` and `\z` anchors to one and letters to the other. A stored pattern must never come to grant
 * more than it did, so such patterns are refused (and grant nothing); undefined when portable.
 */
function notPortable(source: string): string | undefined {
  if (source.includes('[:')) return 'POSIX classes such as [:alpha:] are not accepted; list the characters, e.g. [a-z]';
  for (let i = 0; i < source.length; i++) {
    if (source[i] !== '\\') continue;
    const escaped = source[i + 1] ?? '';
    if (!PORTABLE_ESCAPE.test(escaped)) {
      return `the escape \\${escaped} is not accepted (escapes: \\d \\w \\s and their negations, \\t \\n \\r \\f \\v, and escaped punctuation)`;
    }
    i++;
  }
  return undefined;
}

/**
 * `/re/` patterns must match the whole namespace id; anything else is an exact name. A pattern RE2
 * cannot compile (stored by a release that used JavaScript's RegExp, e.g. with a lookahead) grants nothing.
 */
export function namespaceMatches(pattern: string, namespace: string): boolean {
  if (!isValidId(NAMESPACE_ID, namespace)) return false; // never run a pattern over arbitrary input
  if (!isRegexPattern(pattern)) return pattern === namespace;
  const regex = compilePattern(pattern);
  return regex instanceof RE2JS && regex.testExact(namespace);
}

/**
 * Refuses a client token outside its namespaces. A malformed id passes for management tokens, whose
 * request is then refused with every problem listed (INVALID_ARGUMENT); client tokens never match one.
 */
export function assertNamespace(principal: Principal, namespace: string): void {
  if (!mayUseNamespace(principal, namespace)) {
    const shown = namespace.length > 64 ? `${namespace.slice(0, 61)}...` : namespace;
    throw permissionDenied(`token ${principal.tokenId} may not use namespace ${JSON.stringify(shown)} (it may use: ${principal.namespaces.join(', ') || 'none'})`);
  }
}

export function assertManagement(principal: Principal, what: string): void {
  if (principal.kind !== 'management') throw permissionDenied(`${what} needs a management token; token ${principal.tokenId} is a client token`);
}

/** Every problem with a list of namespace patterns, one message each. */
export function validateNamespacePatterns(patterns: string[]): string[] {
  const problems: string[] = [];
  if (patterns.length > MAX_PATTERNS) problems.push(`namespaces: at most ${MAX_PATTERNS} patterns, got ${patterns.length}`);
  patterns.slice(0, MAX_PATTERNS).forEach((pattern, index) => {
    if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
      problems.push(`namespaces[${index}]: must be 1 to ${MAX_PATTERN_LENGTH} characters`);
    } else if (isRegexPattern(pattern)) {
      const regex = compilePattern(pattern);
      if (!(regex instanceof RE2JS)) {
        problems.push(
          `namespaces[${index}]: ${JSON.stringify(pattern)} is not a valid regular expression (${regex.error}); patterns use RE2 syntax: no lookaround or backreferences`,
        );
      }
    } else if (!isValidId(NAMESPACE_ID, pattern)) {
      problems.push(`namespaces[${index}]: ${JSON.stringify(pattern)} is neither a namespace id nor a /regular expression/`);
    }
  });
  return problems;
}

function validateMetadata(metadata: Record<string, string>): string[] {
  const entries = Object.entries(metadata);
  const problems: string[] = [];
  if (entries.length > MAX_METADATA) problems.push(`metadata: at most ${MAX_METADATA} entries`);
  for (const [key, value] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key)) problems.push(`metadata.${key.slice(0, 64)}: keys are 1-64 letters, digits, _ . -`);
    if (value.length > 256) problems.push(`metadata.${key}: values are at most 256 characters`);
  }
  return problems;
}

/**
 * What a `run` token may call, and what the call must name: `run` calls name the token's own run,
 * `pipeline` calls its run's pipeline (objects); `self` calls name nothing. Every other call is
 * refused: a task's token reads its run and passes values through the object store, and can neither
 * change pipelines, start runs nor reach secrets (which a new config version could print).
 */
export const RUN_TOKEN_SCOPES: Readonly<Record<string, 'self' | 'run' | 'pipeline'>> = {
  whoAmI: 'self',
  getRun: 'run',
  listTaskRuns: 'run',
  getTaskRun: 'run',
  getTaskRunLogs: 'run',
  getRunObject: 'run',
  listRunObjects: 'run',
  putRunObject: 'run',
  deleteRunObject: 'run',
  getPipelineObject: 'pipeline',
  listPipelineObjects: 'pipeline',
  putPipelineObject: 'pipeline',
  deletePipelineObject: 'pipeline',
};

/**
 * Refuses a `run` token a call outside {@link RUN_TOKEN_SCOPES}, or naming another run or pipeline;
 * other tokens pass (their namespace is checked by {@link assertNamespace}). `method` is the RPC's
 * handler name, e.g. `getRun`; without a `target` (a client-streaming call, whose handler checks what
 * its first message names) only the method is checked.
 */
export function assertRunTokenScope(
  principal: Principal,
  method: string,
  target?: { namespaceId?: string; pipelineId?: string; runId?: number | string },
): void {
  if (principal.kind !== 'run') return;
  const run = principal.run;
  if (!run) throw permissionDenied(`token ${principal.tokenId} is a run token without a run; it may do nothing`);
  const scope = RUN_TOKEN_SCOPES[method];
  const ownRun = `run ${run.runId} of pipeline "${run.pipelineId}" in namespace "${run.namespaceId}"`;
  const call = `${method[0]!.toUpperCase()}${method.slice(1)}`;
  if (!scope) {
    throw permissionDenied(
      `token ${principal.tokenId} is a run token of ${ownRun}: it may read that run and use its pipeline's and run's objects, not call ${call}`,
    );
  }
  if (scope === 'self' || target === undefined) return;
  const samePipeline = (target.namespaceId || 'default') === run.namespaceId && target.pipelineId === run.pipelineId;
  if (!samePipeline || (scope === 'run' && Number(target.runId) !== run.runId)) {
    throw permissionDenied(`token ${principal.tokenId} is a run token of ${ownRun}: ${call} may only name ${scope === 'run' ? 'that run' : 'that pipeline'}`);
  }
}
