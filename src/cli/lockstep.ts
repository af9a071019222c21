#!/usr/bin/env node
// Node 20 only: client-node 2 (agent, coordinator) needs three Node 22 shims; a no-op on the image's Node 24
import '../kube/node-compat.js';
import { lockstepProgram } from './lockstep-program.js';
import { runProgram } from './run-program.js';

const code = await runProgram(lockstepProgram(process.env), process.argv.slice(2));
// long-running commands return only when they are done; setting exitCode lets stdout drain
process.exitCode = code;
