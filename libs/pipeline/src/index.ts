// Public surface of @gofer/pipeline: the pipeline configuration model, its parser and validator,
// and the pure DAG rules of a run. No I/O.
export {
  type ConfigIssue,
  type ConfigPath,
  formatConfigIssue,
  formatConfigIssues,
  formatConfigPath,
  ROOT_PATH,
} from './config-issue.js';
export {
  type DagDecision,
  evaluateDag,
  findDependencyCycles,
  runOutcome,
  type TaskNode,
  type TaskRunState,
  type TaskRunStatus,
  topologicalOrder,
} from './dag.js';
export { formatDuration, parseDuration } from './duration.js';
export {
  EXTENSION_NAME,
  idProblem,
  type IdProblemOptions,
  type IdRule,
  idRuleHint,
  isValidId,
  LABEL,
  NAMESPACE_ID,
  PIPELINE_ID,
  TASK_ID,
  TOKEN_ID,
  VARIABLE_NAME,
} from './ids.js';
export {
  interpolate,
  INTERPOLATION_KEY_PATTERN,
  INTERPOLATION_KINDS,
  type InterpolationKind,
  type InterpolationRef,
  type InterpolationScan,
  scanInterpolations,
} from './interpolation.js';
export { formatMemorySize, parseMemorySize } from './memory-size.js';
export {
  DEPENDS_ON_VALUES,
  type DependsOn,
  type NotifierSubscription,
  type ParseResult,
  type PipelineConfig,
  type PipelineDocument,
  PIPELINE_LIMITS,
  type RegistryAuth,
  type RetryPolicy,
  type TaskConfig,
  type TaskDocument,
  type TaskResources,
  type TriggerSubscription,
} from './pipeline-config.js';
export {
  type ConfigTextFormat,
  jsonSyntaxIssue,
  parsePipelineConfig,
  type ParsePipelineConfigOptions,
} from './pipeline-config.parser.js';
export { toPipelineDocument } from './pipeline-config.serializer.js';
export { validatePipelineConfig } from './pipeline-config.validator.js';
export { retryDelayMs } from './retry-policy.js';
