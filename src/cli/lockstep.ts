#!/usr/bin/env node
import './node-floor.js';
import { lockstepProgram } from './lockstep-program.js';
import { runProgram } from './run-program.js';

const code = await runProgram(lockstepProgram(process.env), process.argv.slice(2));
// long-running commands return only when they are done; setting exitCode lets stdout drain
process.exitCode = code;
