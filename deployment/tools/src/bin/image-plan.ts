import { runImagePlan } from '../image-plan-cli.js';

process.exitCode = await runImagePlan(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
