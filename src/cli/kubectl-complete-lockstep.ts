#!/usr/bin/env node
// kubectl runs `kubectl_complete-lockstep` for `kubectl lockstep <TAB>` (kubectl ≥ 1.26).
import './node-floor.js';
import { complete, formatCompletion } from '../kubectl/completion.js';
import { apiLookups } from '../kubectl/completion-lookups.js';
import { COMPLETION_VERBS } from '../kubectl/program.js';

process.stdout.write(formatCompletion(await complete(process.argv.slice(2), COMPLETION_VERBS, apiLookups)));
