#!/usr/bin/env -S node --
// `node --`: node checks every `--env-file` on its command line, also those after the script (a missing path exits 9
// with "node: <path>: not found" before any of our code runs), so lockstep's own --env-file flag needs node's options
// ended explicitly. Whoever runs this bundle through node runs `node -- lockstep.mjs …` for the same reason.
import './node-floor.js';
import { lockstepProgram } from './lockstep-program.js';
import { runProgram } from './run-program.js';

const code = await runProgram(lockstepProgram(process.env), process.argv.slice(2));
// long-running commands return only when they are done; setting exitCode lets stdout drain
process.exitCode = code;
