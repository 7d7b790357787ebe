// ESLint (flat config, typescript-eslint with type information). What it guards, beyond the
// compiler: promises nobody awaits (a lost error or a race), and workflow code that would break
// Temporal's determinism (Node built-ins, clocks, randomness, timers outside the SDK's).
// Import boundaries between the layers are dependency-cruiser's job (.dependency-cruiser.cjs).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'core/report/html/app.js', '.flask-eval/**', 'core/stats/resampleWasm.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // Tests read JSON of many shapes back; `any` there costs nothing the assertions do not catch.
    files: ['tests/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed: no I/O, no Node
    // built-ins, no clocks or randomness but the SDK's (workflowInfo, sleep, uuid4).
    files: ['workflows/**/*.ts', 'core/pipeline.ts', 'core/activityContracts.ts', 'core/provider/endpoint.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code cannot do I/O: move it to an activity' })) }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'use the workflow clock: workflowInfo() or new Date() (which the SDK makes deterministic)' },
        { object: 'Math', property: 'random', message: 'randomness breaks replay: derive it from the input or use the SDK\'s uuid4()' },
      ],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow (a durable timer)' },
        { name: 'setInterval', message: 'use sleep() from @temporalio/workflow in a loop' },
        { name: 'process', message: 'workflow code sees no environment' },
        { name: 'fetch', message: 'workflow code cannot do I/O: move it to an activity' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
);
