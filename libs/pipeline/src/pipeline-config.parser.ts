import {
  CST,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
  type YAMLError,
} from 'yaml';
import { type ConfigIssue, ROOT_PATH } from './config-issue.js';
import { PIPELINE_LIMITS, type ParseResult } from './pipeline-config.js';
import { oversizedLists, validatePipelineConfig } from './pipeline-config.validator.js';

/**
 * How a config's text is read: `yaml` and `auto` read YAML, which includes JSON; `json` first
 * requires strict JSON, so that text its author meant as JSON cannot pass as YAML.
 */
export type ConfigTextFormat = 'auto' | 'yaml' | 'json';

/** Options of {@link parsePipelineConfig}. */
export interface ParsePipelineConfigOptions {
  /** Largest accepted input, in bytes (UTF-8). @default 1 MiB ({@link PIPELINE_LIMITS.maxConfigBytes}) */
  maxBytes?: number;
  /** @default 'auto' */
  format?: ConfigTextFormat;
}

// Resource guards. Each aliased use of an anchor counts once (times the aliases inside it), so 1000
// lets every one of 500 tasks merge a shared `<<: *defaults`, while "billion laughs" documents fail
// within a few levels. Flow nesting deeper than 64 has no use in a pipeline, and the YAML parser's
// time grows steeply with depth.
const MAX_ALIAS_COUNT = 1000;
const MAX_NESTING = 64;
const MAX_SYNTAX_ERRORS = 10;

// Keys whose values are numbers or booleans in the schema. Everywhere else a YAML number or boolean
// is kept as the text the user wrote, so `VERSION: 1.10` stays "1.10" rather than becoming "1.1".
const TYPED_KEYS = new Set(['parallelism', 'attempts', 'inject_api_token', 'cpu', 'memory']);

const YAML_MESSAGES: Record<string, string> = {
  TAB_AS_INDENT: 'tabs are not allowed as indentation in YAML; indent with spaces',
  MULTIPLE_DOCS: 'the file holds several YAML documents (---); a pipeline config is one document',
  RESOURCE_EXHAUSTION: 'the config is nested too deeply',
};

/**
 * Parses a pipeline config from YAML or JSON text (JSON is read as the YAML it is) and validates it
 * with {@link validatePipelineConfig}. Never throws on bad input: every problem comes back as an
 * issue — with `line L, column C` as its path for syntax errors — whether the input is too large,
 * not UTF-8, binary, empty, malformed, an alias bomb, or a document with invalid fields. With
 * `format: 'json'`, text that is not strict JSON is refused (see {@link jsonSyntaxIssue}).
 *
 * YAML details: one document per file; anchors, aliases and `<<` merge keys work; duplicate keys and
 * custom tags (`!foo`, `!!binary`) are errors; a number or boolean written where text is expected
 * keeps the text as written (`VERSION: 1.10` is "1.10", `pass: 0123` is "0123").
 */
export function parsePipelineConfig(text: string | Uint8Array, options: ParsePipelineConfigOptions = {}): ParseResult {
  const maxBytes = options.maxBytes ?? PIPELINE_LIMITS.maxConfigBytes;
  const decoded = decode(text, maxBytes);
  if (typeof decoded !== 'string') return failure(decoded);
  const source = decoded.startsWith('\uFEFF') ? decoded.slice(1) : decoded;

  const binary = firstControlCharacter(source);
  if (binary !== undefined) return failure(binary);
  if (options.format === 'json') {
    const notJson = jsonSyntaxIssue(source);
    if (notJson !== undefined) return failure(notJson);
  }
  const tooDeep = nestingProblem(source);
  if (tooDeep !== undefined) return failure(tooDeep);

  try {
    return parseYaml(source);
  } catch (error) {
    // The depth guard bounds flow nesting; deep indentation can still exhaust a small stack.
    if (error instanceof RangeError) return failure({ path: ROOT_PATH, message: 'the config is nested too deeply' });
    throw error;
  }
}

function parseYaml(source: string): ParseResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, {
    lineCounter,
    merge: true,
    prettyErrors: false,
    resolveKnownTags: false,
    // Checked in `keepWrittenScalars`: the library's own check compares every pair of keys.
    uniqueKeys: false,
  });
  const syntaxErrors = [...document.errors, ...document.warnings];
  if (syntaxErrors.length > 0) {
    return failure(...syntaxErrors.slice(0, MAX_SYNTAX_ERRORS).map((error) => fromYamlError(error, lineCounter)));
  }
  if (document.contents === null) {
    return failure({ path: ROOT_PATH, message: 'the config is empty; a pipeline needs at least an id and tasks' });
  }
  // Counted on the syntax tree, before any work per entry (the validator counts again after aliases).
  const contents = document.contents;
  const oversized = oversizedLists((field) => {
    const list = isMap(contents) ? contents.get(field, true) : undefined;
    return isSeq(list) ? list.items.length : undefined;
  });
  if (oversized.length > 0) return failure(...oversized);
  const keyProblems: ConfigIssue[] = [];
  keepWrittenScalars(document.contents, undefined, lineCounter, keyProblems);
  if (keyProblems.length > 0) return failure(...keyProblems);

  let doc: unknown;
  try {
    doc = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof RangeError || !(error instanceof Error)) throw error;
    return failure({ path: ROOT_PATH, message: conversionProblem(error) });
  }
  return validatePipelineConfig(doc);
}

/**
 * Why a config said to be JSON is not strict JSON, if it is not: the problem as JSON.parse words it,
 * at its line and column when it says where. YAML, a superset of JSON, would read `{a: 1}` or a YAML
 * file misnamed `.json` as well; {@link parsePipelineConfig} checks this first with `format: 'json'`.
 * A leading byte order mark is allowed; bytes that are not UTF-8 are left for the parser to report.
 */
export function jsonSyntaxIssue(config: string | Uint8Array): ConfigIssue | undefined {
  const decoded = typeof config === 'string' ? config : new TextDecoder('utf-8', { ignoreBOM: true }).decode(config);
  const text = decoded.startsWith('\uFEFF') ? decoded.slice(1) : decoded;
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    // V8 quotes an excerpt of the text ("…" is not valid JSON) or gives an offset ("at position 7").
    const offset = /at position (\d+)/.exec(error.message)?.[1];
    const reason = error.message
      .replace(/,\s*(\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '')
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/ at position \d+.*$/s, '');
    return {
      path: offset === undefined ? ROOT_PATH : lineAndColumn(text, Number(offset)),
      message: `the config is not JSON, though its format says JSON (${reason}); fix it, or send it as YAML`,
    };
  }
}

function failure(...errors: ConfigIssue[]): ParseResult {
  return { ok: false, errors };
}

function decode(text: string | Uint8Array, maxBytes: number): string | ConfigIssue {
  const bytes = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.byteLength;
  if (bytes > maxBytes) {
    const message = `the config is ${formatBytes(bytes)}, more than the ${formatBytes(maxBytes)} allowed`;
    return { path: ROOT_PATH, message };
  }
  if (typeof text === 'string') return text;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(text);
  } catch {
    return { path: ROOT_PATH, message: 'the config is not UTF-8 text; save it as a UTF-8 YAML or JSON file' };
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}

/** YAML allows no C0 control characters but tab, LF and CR, nor DEL: they mean binary data. */
function firstControlCharacter(source: string): ConfigIssue | undefined {
  const match = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/.exec(source);
  if (match === null) return undefined;
  const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return {
    path: lineAndColumn(source, match.index),
    message: `unexpected control character U+${code}: a pipeline config is YAML or JSON text, not binary data`,
  };
}

function lineAndColumn(source: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf('\n'); i !== -1 && i < offset; i = source.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/**
 * Rejects pathological nesting before the parser sees it: the parser's time grows steeply with
 * depth (a megabyte of `[` takes it seconds). Uses the library's own lexer, so brackets inside
 * strings and comments are not counted; stops at the first excess.
 */
function nestingProblem(source: string): ConfigIssue | undefined {
  let flowDepth = 0;
  let indicatorsOnLine = 0;
  let offset = 0;
  for (const token of new Lexer().lex(source)) {
    const type = CST.tokenType(token);
    if (type === 'flow-map-start' || type === 'flow-seq-start') flowDepth++;
    else if (type === 'flow-map-end' || type === 'flow-seq-end') flowDepth = Math.max(0, flowDepth - 1);
    // `- - - x` nests one block sequence per indicator on the same line.
    else if (type === 'seq-item-ind' || type === 'explicit-key-ind') indicatorsOnLine++;
    else if (type === 'newline') indicatorsOnLine = 0;
    if (flowDepth > MAX_NESTING || indicatorsOnLine > MAX_NESTING) {
      const message = `the config is nested more than ${MAX_NESTING} levels deep`;
      return { path: lineAndColumn(source, offset), message };
    }
    // The lexer also yields marker tokens that stand for no source text.
    if (token !== CST.DOCUMENT && token !== CST.FLOW_END && token !== CST.SCALAR) offset += token.length;
  }
  return undefined;
}

function fromYamlError(error: YAMLError, lineCounter: LineCounter): ConfigIssue {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  const tag = /^Unresolved tag: (\S+)/.exec(error.message)?.[1]?.replace('tag:yaml.org,2002:', '!!');
  const message =
    tag !== undefined
      ? `unsupported YAML tag ${tag}; remove it`
      : (YAML_MESSAGES[error.code] ?? `invalid YAML: ${error.message}`);
  return { path: `line ${line}, column ${col}`, message };
}

/**
 * Walks the parsed YAML before it becomes plain data: reports duplicate and non-scalar keys (with
 * their line), and turns number and boolean scalars back into the text the user wrote wherever the
 * schema expects a string (see TYPED_KEYS). Aliases are not followed: their anchors are walked where
 * they are defined.
 */
function keepWrittenScalars(
  node: unknown,
  key: string | undefined,
  lineCounter: LineCounter,
  problems: ConfigIssue[],
): void {
  if (isScalar(node)) {
    // An anchored scalar may be used anywhere through its aliases, so it keeps its YAML type (and
    // becomes a string, e.g. 1.1 for 1.10, only where a string is expected).
    const typed = node.anchor !== undefined || (key !== undefined && TYPED_KEYS.has(key));
    if ((typeof node.value === 'number' || typeof node.value === 'boolean') && !typed) {
      node.value = node.source ?? String(node.value);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) keepWrittenScalars(item, undefined, lineCounter, problems);
  } else if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key;
      let name: string | undefined;
      if (isScalar(keyNode) && keyNode.value !== null && typeof keyNode.value !== 'object') {
        name = typeof keyNode.value === 'string' ? keyNode.value : (keyNode.source ?? String(keyNode.value));
        keyNode.value = name;
      } else if (!isAlias(keyNode)) {
        problems.push({ path: position(keyNode, lineCounter), message: 'mapping keys must be plain strings' });
      }
      if (name === '<<' && !isMergeSource(pair.value)) {
        const message = 'a << merge key takes a mapping, an *alias of one, or a list of those';
        problems.push({ path: position(keyNode, lineCounter), message });
      }
      if (name !== undefined && name !== '<<') {
        if (seen.has(name)) {
          const message = `duplicate key ${JSON.stringify(name)} in this mapping`;
          problems.push({ path: position(keyNode, lineCounter), message });
        }
        seen.add(name);
      }
      keepWrittenScalars(pair.value, name, lineCounter, problems);
    }
  }
}

function isMergeSource(node: unknown): boolean {
  return isMap(node) || isAlias(node) || (isSeq(node) && node.items.every((item) => isMap(item) || isAlias(item)));
}

function position(node: unknown, lineCounter: LineCounter): string {
  const range = (node as YamlNode | null)?.range;
  if (!range) return ROOT_PATH;
  const { line, col } = lineCounter.linePos(range[0]);
  return `line ${line}, column ${col}`;
}

/** Problems the YAML library only finds while turning the document into data. */
function conversionProblem(error: Error): string {
  if (/excessive alias count/i.test(error.message)) {
    return `YAML aliases expand too much (more than ${MAX_ALIAS_COUNT} uses); repeat fewer or smaller parts through *aliases`;
  }
  return `invalid YAML: ${error.message}`;
}
