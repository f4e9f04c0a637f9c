/**
 * How many copies of one model session run side by side, and the ONNX Runtime threads of each (pure).
 *
 * Why replicas: on a CPU a small model's run does not use a second core well (the PaddleOCR
 * classifier at batch 1 takes 0.65 ms on one intra-op thread and 1.2 ms on two, on the 2-core
 * development VM), and one session runs one batch at a time on its worker thread. Two sessions of
 * the same model in two workers, one intra-op thread each, run two batches at once and keep both
 * cores busy while the main thread parses messages and sends results. On a GPU one session already
 * keeps the device busy, so `auto` means one there.
 *
 * Why not by default: where the inferencer shares the cores with the rest of the suite (the 2-core
 * development VM running all modules), replicas made the end-to-end burst slower (10.9 → 8.8 files/s,
 * smaller classifier batches) and cost about 350 MiB of memory (inferencer peak RSS 505 → 855 MiB on the
 * sample data). They pay off on a host, or a Kubernetes pod, whose cores the inferencer has to itself.
 */
export interface ReplicaSettings {
  /** 0: automatic (on a CPU one per core, at most {@link MAX_AUTO_CPU_REPLICAS}; 1 on a GPU). The module's default is 1 (config.ts). */
  readonly sessionReplicas: number;
  /** 0: automatic (the cores shared among the replicas; ONNX Runtime's own default for a single session). */
  readonly intraOpThreads: number;
}

export interface ReplicaPlan {
  /** Sessions of each model when it runs on the CPU provider. */
  readonly cpu: number;
  /** Sessions of each model when it runs on CUDA. */
  readonly cuda: number;
  /** Intra-op threads each session is opened with (0: ONNX Runtime decides). */
  readonly intraOpThreads: number;
}

/** Automatic replicas on a CPU stop here: beyond it, a replica's share of the cores is what matters. */
export const MAX_AUTO_CPU_REPLICAS = 4;

export function replicaPlan(settings: ReplicaSettings, cores: number): ReplicaPlan {
  const usable = Math.max(1, Math.floor(cores));
  const cpu = settings.sessionReplicas > 0 ? settings.sessionReplicas : Math.min(usable, MAX_AUTO_CPU_REPLICAS);
  const cuda = settings.sessionReplicas > 0 ? settings.sessionReplicas : 1;
  // Replicas share the cores: each gets its part, so that together they do not oversubscribe them.
  const intraOpThreads = settings.intraOpThreads > 0 ? settings.intraOpThreads : cpu > 1 ? Math.max(1, Math.floor(usable / cpu)) : 0;
  return { cpu, cuda, intraOpThreads };
}
