import { runGenconfig } from '../cli.js';

process.exitCode = await runGenconfig(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
