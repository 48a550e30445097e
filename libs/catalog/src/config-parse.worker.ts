import { parsePipelineConfig, type ParsePipelineConfigOptions, type ParseResult } from '@gofer/pipeline';

/** Runs in a worker thread (see config-parser.ts): parses and validates one pipeline config. */
export default function parse({ raw, options }: { raw: Uint8Array; options: ParsePipelineConfigOptions }): ParseResult {
  return parsePipelineConfig(raw, options);
}
