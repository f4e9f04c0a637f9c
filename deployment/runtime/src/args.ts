/** Options of `npm start -- …` (the local runtime). */
export interface StartArgs {
  readonly workDir: string | undefined;
  /** Deployment manifest to run (template or generated); default deployment.template.json. */
  readonly manifest: string | undefined;
  /** Variables for the manifest's `$VAR`s; default .env in the repository (absent is fine only for the default). */
  readonly envFile: string | undefined;
  readonly hubMetricsPort: number | undefined;
  readonly untilIdle: boolean;
  readonly demo: boolean;
  readonly hubPort: number | undefined;
  /** Upper bound for --until-idle, in seconds. */
  readonly idleTimeoutS: number;
  readonly help: boolean;
}

export const START_USAGE = `Usage: npm start -- [options]
  --workdir DIR       work folder (default: .edge in the repository)
  --manifest FILE     deployment manifest to run: a template (e.g. deployment.debug.template.json) or a
                      generated manifest (default: deployment.template.json)
  --env-file FILE     values for the manifest's $VARIABLES (default: .env in the repository, if present)
  --until-idle        process what is in the inbox, print a JSON summary as the last line, exit
  --idle-timeout S    give up waiting for idle after S seconds (default 900)
  --no-demo           do not generate sample data into an empty inbox
  --hub-port N        MQTT port of the local edge hub (default 8883, or a free port if taken)
  --hub-metrics-port N  port of the hub's Prometheus /metrics (default: a free port, printed at start)
  --help`;

/** Parses argv (after the script name). Throws with a usage message on anything unknown. */
export function parseStartArgs(argv: readonly string[]): StartArgs {
  // `npm start` runs `start.js -- <your options>`: Node 20 reads `--env-file` anywhere on its own command line
  // (and fails when the file is not where node runs) unless a `--` ends node's options first.
  if (argv[0] === '--') argv = argv.slice(1);
  let workDir: string | undefined;
  let manifest: string | undefined;
  let envFile: string | undefined;
  let hubMetricsPort: number | undefined;
  let untilIdle = false;
  let demo = true;
  let hubPort: number | undefined;
  let idleTimeoutS = 900;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${START_USAGE}`);
      return v;
    };
    const int = (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a non-negative integer, got ${v}`);
      return n;
    };
    switch (a) {
      case '--workdir':
        workDir = value();
        break;
      case '--manifest':
        manifest = value();
        break;
      case '--env-file':
        envFile = value();
        break;
      case '--hub-metrics-port':
        hubMetricsPort = int(value());
        break;
      case '--until-idle':
        untilIdle = true;
        break;
      case '--no-demo':
        demo = false;
        break;
      case '--hub-port':
        hubPort = int(value());
        break;
      case '--idle-timeout':
        idleTimeoutS = int(value());
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new Error(`unknown option ${String(a)}\n${START_USAGE}`);
    }
  }
  return { workDir, manifest, envFile, hubMetricsPort, untilIdle, demo, hubPort, idleTimeoutS, help };
}
