export { CREATE_OPTIONS_LIMITS, CREATE_OPTIONS_KEY, chunkCreateOptions, createOptionsKey, joinCreateOptions } from './create-options.js';
export {
  ROUTES_PATH,
  isRoutePath,
  checkCreateOptions,
  checkEdgeHubSettings,
  checkRouteEndpoints,
  checkRoutes,
  checkTwinSections,
  checkUnresolved,
  deploymentParts,
  type DeclaredEndpoints,
  type DeploymentParts,
} from './checks.js';
export { runGenconfig, runValidate, type CliIo } from './cli.js';
export {
  argumentList,
  checkDockerfile,
  copiesWholeStage,
  copyInstructions,
  envOf,
  npmCiCommand,
  parseInstructions,
  parseStages,
  productionInstall,
  splitFlags,
  workdirAt,
  type CopyInstruction,
  type Instruction,
  type Stage,
} from './dockerfile.js';
export { PLATFORMS, generateManifest, genconfigFiles, manifestFileName, type GenconfigFilesOptions, type GenerateOptions, type GenerateResult } from './genconfig.js';
export { childObject, isJsonObject, pointer, readJsonFile, readJsonObject, type JsonObject, type JsonPrimitive, type JsonValue } from './json.js';
export { moduleImage, parseModuleJson, readModuleSpecs, referencedPlatform, type ModuleImageSpec } from './modules.js';
export { error, errorsOf, formatProblem, warning, type Problem } from './problems.js';
export { compileEdgeHubRoutes, type RouteEndpointSummary } from './route-engine.js';
export { DEFAULT_SCHEMAS_DIR, SCHEMA_IDS, loadDeploymentSchemas, type DeploymentSchemas } from './schemas.js';
export {
  defaultValidateFiles,
  deploymentKind,
  documentedVariables,
  validateDeployment,
  validateFiles,
  validateLayered,
  validateManifest,
  validateTemplate,
  type DeploymentKind,
  type FileReport,
  type ValidateContext,
  type ValidateFilesOptions,
} from './validate.js';
export { MODULE_IMAGE_REFERENCE, combineVariables, expandVariables, parseDotEnv, readDotEnv, variableReferences, type Variables } from './variables.js';
export { MODULES_WITH_DEFAULT_MODEL, RELEASE_PLATFORMS, modelSetDigest, planImage, type ImagePlan, type ImagePlanInput, type ReleasePlatform } from './image-plan.js';
export { formatPlan, runImagePlan } from './image-plan-cli.js';
export {
  MODEL_REGISTERED_TYPE,
  parseModelRegistered,
  settingsFromEnv,
  desiredFromLayered,
  localHubTarget,
  iotHubTarget,
  parseServiceConnectionString,
  serviceSasToken,
  handleModelRegistered,
  inferencerPatch,
  type ModelRegistered,
  type ModelRegisteredSettings,
  type TwinTarget,
  type ModelRegisteredOutcome,
} from './model-registered/index.js';
export { runModelLoop, type LoopOptions, type LoopSummary } from './loop/model-loop.js';
export { LOOP_SUBJECTS, tableDatasets, type LoopModel, type LoopSubject } from './loop/subjects.js';
