// The layering, checked on every import (npm run lint:layers). From the top down:
//   bin -> client (the CLI) -> server (state server, dev-server supervisor) -> worker (wiring)
//     -> activities | workflows -> core
//   simulator (the offline OpenAI-compatible server) -> core; the CLI may start it in-process.
// An import may point down or within its own folder, never up or across: core knows no process,
// workflows and activities share only core's vocabulary (core/pipeline.ts, core/activityContracts.ts),
// and nothing that ships imports tests/ or bench/.
const layer = (from, allowed) => ({
  name: `${from}-imports-down-only`,
  severity: 'error',
  comment: `${from}/ may import only ${allowed.join(', ')}`,
  from: { path: `^${from}/` },
  to: { path: '^(bin|client|server|worker|workflows|activities|simulator|core|tests|bench|scripts)/', pathNot: `^(${[from, ...allowed].join('|')})/` },
});

// eslint-disable-next-line no-undef -- a CommonJS config file (dependency-cruiser reads .cjs)
module.exports = {
  forbidden: [
    layer('core', []),
    layer('workflows', ['core']),
    layer('activities', ['core']),
    layer('worker', ['activities', 'workflows', 'core']),
    layer('server', ['worker', 'activities', 'core']),
    layer('simulator', ['core']),
    // The CLI types its workflow handles with the workflow's signature (type-only, as Temporal's samples do).
    layer('client', ['server', 'worker', 'workflows', 'activities', 'simulator', 'core']),
    {
      name: 'workflow-code-is-deterministic',
      severity: 'error',
      comment: 'workflow code (and the core modules its bundle includes) cannot load Node built-ins',
      from: { path: '^(workflows/|core/pipeline\\.ts|core/activityContracts\\.ts|core/provider/endpoint\\.ts)' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'modules that import each other: move what both need into a third',
      from: { pathNot: '^tests/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|data|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
