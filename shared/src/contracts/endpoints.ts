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
    inputs: { files: 'files' },
    outputs: {
      /** `edgeml.tensor/v1`: model-ready tensors for the inferencer. */
      tensors: 'tensors',
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
      /** `edgeml.inference.result/v1`: to $upstream and to the uploader. */
      results: 'results',
      /** `edgeml.completion/v1` for tensors the inferencer dead-letters. */
      completed: 'completed',
      alerts: 'alerts',
      /** `edgeml.rollout/v1`: each step of a staged rollout (shadow/canary) with its comparison figures, to $upstream. */
      rollout: 'rollout',
    },
  },
  uploader: {
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
