/**
 * Every module's inputs and outputs: the names routes in deployment.template.json use
 * (`FROM /messages/modules/<m>/outputs/<o>`, `INTO BrokeredEndpoint("/modules/<m>/inputs/<i>")`).
 * A test checks each manifest route against this map.
 */
export const MODULE_ENDPOINTS = {
  watcher: {
    inputs: {
      /** `edgeml.completion/v1` from the other modules: a part of a source reached its final outcome. */
      completed: 'completed',
      /** Azure Stack Edge `FileEvent` messages that name a path on the share. */
      shareEvents: 'shareEvents',
    },
    outputs: {
      /** `edgeml.file/v1`: one per stable file. */
      files: 'files',
      alerts: 'alerts',
    },
  },
  transformer: {
    inputs: {
      files: 'files',
      /**
       * `edgeml.inference.result/v1`: every result of whole images; those of a chain's detector, for a
       * source planned with that chain, become crops (chains.ts); the others are ignored.
       */
      detections: 'detections',
      /** `edgeml.inference.result/v1` of a chain's orientation step: the crop's reader tensor follows, turned when needed. */
      orientations: 'orientations',
    },
    outputs: {
      /** `edgeml.tensor/v1`: model-ready tensors for the inferencer (whole images, and chain crops). */
      tensors: 'tensors',
      /** `edgeml.crops/v1`: how a detection became crops, for the aggregator. */
      crops: 'crops',
      /** `edgeml.artifact/v1`: ML-ready data for upload. */
      artifacts: 'artifacts',
      /** `edgeml.completion/v1` for items the transformer dead-letters. */
      completed: 'completed',
      alerts: 'alerts',
    },
  },
  inferencer: {
    inputs: { tensors: 'tensors' },
    outputs: {
      /** `edgeml.inference.result/v1` of whole-source tensors: to $upstream and to the uploader (and to the transformer's `detections`). */
      results: 'results',
      /** `edgeml.inference.result/v1` of a chain crop's orientation step (chains.ts): to the transformer's `orientations`. */
      orientations: 'orientations',
      /** `edgeml.inference.result/v1` of a chain crop's last step: to the aggregator's `readings`. */
      readings: 'readings',
      /** `edgeml.completion/v1` for tensors the inferencer dead-letters. */
      completed: 'completed',
      alerts: 'alerts',
      /** `edgeml.rollout/v1`: each step of a staged rollout (shadow/canary) with its comparison figures, to $upstream. */
      rollout: 'rollout',
    },
  },
  aggregator: {
    inputs: {
      /** `edgeml.crops/v1` from the transformer: the crops a chain's run expects readings for. */
      crops: 'crops',
      /** `edgeml.inference.result/v1` of a chain's last step, one per crop. */
      readings: 'readings',
    },
    outputs: {
      /** `edgeml.chain.result/v1`: one per source file and chain, once every crop is read; to $upstream and the uploader. */
      results: 'results',
      /** `edgeml.completion/v1` for chain parts the aggregator dead-letters or hands back. */
      completed: 'completed',
      alerts: 'alerts',
    },
  },
  uploader: {
    /** `results` takes `edgeml.inference.result/v1` and `edgeml.chain.result/v1`. */
    inputs: { artifacts: 'artifacts', results: 'results' },
    outputs: {
      /** `edgeml.completion/v1` once a part is committed and verified in the sink (or quarantined). */
      completed: 'completed',
      /** `edgeml.hard-example/v1` once a hard example's line is in the `to-label` dataset (to $upstream). */
      hardExamples: 'hardExamples',
      alerts: 'alerts',
    },
  },
} as const;

export type ModuleName = keyof typeof MODULE_ENDPOINTS;
export const MODULE_NAMES = Object.freeze(Object.keys(MODULE_ENDPOINTS) as ModuleName[]);
export type InputName<M extends ModuleName> = keyof (typeof MODULE_ENDPOINTS)[M]['inputs'] & string;
export type OutputName<M extends ModuleName> = keyof (typeof MODULE_ENDPOINTS)[M]['outputs'] & string;
