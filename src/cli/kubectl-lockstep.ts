#!/usr/bin/env node
import './node-floor.js';
import { kubectlProgram } from '../kubectl/program.js';
import { runProgram } from './run-program.js';

process.exitCode = await runProgram(kubectlProgram(process.env), process.argv.slice(2));
