// The OCI distribution adapter and the model package, for the CLI and the inferencer.
export { createRegistryClient } from './registry/client.js';
export { parseChallenge } from './registry/challenge.js';
export type { BlobSource, FetchedManifest, RegistryClient, RegistryClientOptions, RegistryCredentials } from './registry/types.js';
export { registryCredentialsFromEnv, plainHttpFor, isLoopbackRegistry } from './credentials.js';
export { parseReference, formatReference, manifestReferenceOf, referenceProblems, isDigest, isTag, isRepository, isRegistryHost, type OciReference } from './reference.js';
export { ANNOTATIONS, EMPTY_DESCRIPTOR, MANIFEST_ACCEPT, MODEL_PACKAGE_FILES, MODEL_PACKAGE_TYPES, OCI_MEDIA_TYPES, type OciDescriptor, type OciIndex, type OciManifest } from './media-types.js';
export { buildPackageManifest, locatePackage, packageAnnotations, type BuiltManifest, type ImageLayer, type LocatedPackage, type ModelProvenance, type PackageIdentity } from './model-package.js';
export { extractModelFiles, safeMemberName, type ExtractLimits, type ExtractedFiles } from './image-layer.js';
export { layoutSource, readLayoutIndex, unpackLayoutTar, writeLayoutTar, type LayoutBlob } from './layout.js';
export { registrySource, type ContentSource } from './content-source.js';
export { pullModelPackage, type PullLimits, type PulledPackage } from './pull.js';
export { pushModelPackage, exportToLayout, type PushRequest, type PushResult } from './push.js';
