/**
 * The model package as an OCI artifact: media types and annotations (documented in
 * docs/model-registry.md). The `vnd.edgeml.*` types are this project's own; everything else is
 * from the OCI image-spec v1.1.
 */

export const OCI_MEDIA_TYPES = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  empty: 'application/vnd.oci.empty.v1+json',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  dockerImageConfig: 'application/vnd.docker.container.image.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerTarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerLayerTarGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** What an edge model package is made of. */
export const MODEL_PACKAGE_TYPES = {
  /** The manifest's `artifactType`. */
  artifact: 'application/vnd.edgeml.model.v1',
  /** The ONNX model file (layer titled `model.onnx`). */
  onnx: 'application/vnd.edgeml.model.onnx.v1',
  /** The model manifest, `edgeml.model-manifest/v1` (layer titled `manifest.json`). */
  modelManifest: 'application/vnd.edgeml.model.manifest.v1+json',
} as const;

/** File names inside a package, and the folder of a container image that carries one. */
export const MODEL_PACKAGE_FILES = {
  model: 'model.onnx',
  manifest: 'manifest.json',
  /** "Model in a container": `/models/model.onnx` + `/models/manifest.json` (KServe modelcar's folder). */
  imageFolder: 'models',
} as const;

/** The empty descriptor of image-spec v1.1 (config of an artifact). */
export const EMPTY_DESCRIPTOR = {
  mediaType: OCI_MEDIA_TYPES.empty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
} as const;

/** Annotations on the package's manifest. */
export const ANNOTATIONS = {
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  created: 'org.opencontainers.image.created',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  description: 'org.opencontainers.image.description',
  modelName: 'vnd.edgeml.model.name',
  modelVersion: 'vnd.edgeml.model.version',
  /** SHA-256 (hex) of model.onnx. */
  modelSha256: 'vnd.edgeml.model.sha256',
  /** The preprocessing profile the model serves. */
  modelProfile: 'vnd.edgeml.model.profile',
  /** `<name>:<version>` of the Azure ML registered model it came from. */
  azuremlModel: 'vnd.edgeml.azureml.model',
  /** The data it was trained on (an Azure ML data asset `name:version`, or a URI). */
  dataset: 'vnd.edgeml.dataset',
  /** oras: a layer that is a packed directory. */
  orasUnpack: 'io.deis.oras.content.unpack',
} as const;

/** What a manifest GET accepts (the distribution registry answers 404 for a type left out). */
export const MANIFEST_ACCEPT = [OCI_MEDIA_TYPES.manifest, OCI_MEDIA_TYPES.index, OCI_MEDIA_TYPES.dockerManifest, OCI_MEDIA_TYPES.dockerManifestList].join(', ');

/** An OCI descriptor. */
export interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
  readonly data?: string;
  readonly platform?: { readonly architecture?: string; readonly os?: string };
}

/** An image manifest (OCI or Docker v2 schema 2). */
export interface OciManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: OciDescriptor;
  readonly layers: readonly OciDescriptor[];
  readonly subject?: OciDescriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index (or Docker manifest list). */
export interface OciIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly OciDescriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}
