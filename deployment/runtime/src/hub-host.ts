/**
 * The edge hub the runtime runs now. restart() replaces it (a stopped hub cannot start again) on
 * the same work folder and ports; everything that talks to the hub asks for `current` each time,
 * or holds `follower()`, which forwards to whichever hub is current.
 */
import { createEdgeHub, type EdgeHub } from '@edgeml/edge-hub';
import { sleep, type Logger } from '@edgeml/shared';

export interface HubHostOptions {
  /** The hub's store (queues, twins, identities). */
  readonly workDir: string;
  /** The resolved deployment manifest. */
  readonly manifest: unknown;
  readonly deviceId: string;
  readonly iotHubHostName: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly logger: Logger;
}

export class HubHost {
  private constructor(
    private readonly options: HubHostOptions,
    private hub: EdgeHub,
  ) {}

  /** Creates and starts the hub. */
  static async start(options: HubHostOptions): Promise<HubHost> {
    const host = new HubHost(options, await HubHost.create(options, options.port, options.metricsPort));
    await host.hub.start();
    return host;
  }

  private static create(o: HubHostOptions, port: number, metricsPort: number): Promise<EdgeHub> {
    const { workDir, manifest, deviceId, iotHubHostName, logger } = o;
    return createEdgeHub({ workDir, manifest, deviceId, iotHubHostName, port, metricsPort, logger: logger.child({ component: 'edge-hub' }) });
  }

  get current(): EdgeHub {
    return this.hub;
  }

  /** An EdgeHub that forwards every access to the current hub (for parts that outlive a restart). */
  follower(): EdgeHub {
    return new Proxy({} as EdgeHub, { get: (_target, prop) => Reflect.get(this.hub, prop) as unknown });
  }

  /** Stops the hub, waits `downMs`, and starts a new one on the same work folder and ports. */
  async restart(downMs: number): Promise<void> {
    const port = this.hub.port;
    const metricsPort = this.hub.metricsPort ?? 0;
    await this.hub.stop();
    if (downMs > 0) await sleep(downMs);
    // Same work folder (store-and-forward queue, twins, identities) and the same ports the modules and scrapers were given.
    this.hub = await HubHost.create(this.options, port, metricsPort);
    await this.hub.start();
    this.options.logger.info({ port, downMs }, 'edge hub restarted');
  }

  stop(): Promise<void> {
    return this.hub.stop();
  }
}
