/** The plugin's two programs, as scripts/build.mjs names their bundles in dist/. */
export const ENTRY = ['kubectl-lockstep', 'kubectl_complete-lockstep'] as const;
