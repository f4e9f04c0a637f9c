/** Options of `npm start -- …` (the local runtime). */
export interface StartArgs {
  readonly workDir: string | undefined;
  readonly untilIdle: boolean;
  readonly demo: boolean;
  readonly hubPort: number | undefined;
  /** Upper bound for --until-idle, in seconds. */
  readonly idleTimeoutS: number;
  readonly help: boolean;
}

export const START_USAGE = `Usage: npm start -- [options]
  --workdir DIR       work folder (default: .edge in the repository)
  --until-idle        process what is in the inbox, print a JSON summary as the last line, exit
  --idle-timeout S    give up waiting for idle after S seconds (default 900)
  --no-demo           do not generate sample data into an empty inbox
  --hub-port N        MQTT port of the local edge hub (default 8883, or a free port if taken)
  --help`;

/** Parses argv (after the script name). Throws with a usage message on anything unknown. */
export function parseStartArgs(argv: readonly string[]): StartArgs {
  let workDir: string | undefined;
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
  return { workDir, untilIdle, demo, hubPort, idleTimeoutS, help };
}
