/** Types of build-inputs.mjs for the TypeScript tests that import it. */
export declare const INPUTS_HASH_FILE: string;
export declare function buildInputsHash(root: string): string;
