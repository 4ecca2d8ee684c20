// Lint rules, including the architecture: project tags (project.json) and which tags may depend on which,
// enforced by @nx/enforce-module-boundaries. Breaking a boundary fails `npm test`.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Packages that do I/O: never imported by the pure Campaign domain libraries. */
const IO_PACKAGES = [
  'pg',
  'kafkajs',
  'redis',
  'express',
  'opossum',
  'node:fs',
  'node:fs/promises',
  'fs/promises',
  'node:net',
  'node:http',
  'fs',
  'net',
  'http',
  'child_process',
  'node:child_process',
];

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', 'infra/.cache/**', 'infra/.data/**', 'reports/**', 'tmp/**', '.nx/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          banTransitiveDependencies: false,
          allow: [],
          depConstraints: [
            // Apps are composition roots: they may use any library but never another app (test helpers only
            // from tests: see the no-restricted-imports rule below).
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:testing'] },
            // Platform adapters depend only on other platform adapters.
            { sourceTag: 'scope:platform', onlyDependOnLibsWithTags: ['scope:platform'] },
            // Contracts (topics, message schemas) build on the messaging adapter only.
            { sourceTag: 'scope:contracts', onlyDependOnLibsWithTags: ['scope:platform'] },
            // The Campaign domain is pure TypeScript: it depends on nothing but itself and the error catalogue
            // (@cap/platform-errors, pure too), where every code is defined.
            { sourceTag: 'scope:campaign', onlyDependOnLibsWithTags: ['scope:campaign', 'scope:errors'] },
            // Campaign I/O adapters (libs/adapters: schema files, DDL and writes applied to PostgreSQL, the data RPC
            // handlers) join the domain to the platform adapters; the domain never depends on them.
            { sourceTag: 'scope:campaign-io', onlyDependOnLibsWithTags: ['scope:campaign', 'scope:campaign-io', 'scope:platform', 'type:testing'] },
            // Test helpers are used from tests only (see the rule below), never from production code.
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['scope:platform', 'scope:contracts'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Only config.ts (or a script entry) reads process.env.' },
      ],
    },
  },
  {
    // Production code never imports the test helpers.
    files: ['apps/*/src/**/*.ts', 'libs/**/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'libs/platform/testing/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@cap/platform-testing', message: 'Test helpers are for tests only.' }] }],
    },
  },
  {
    // Every Campaign domain library, no exception: its I/O lives in libs/adapters (or in an app).
    files: ['libs/campaign/**/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: IO_PACKAGES.map((name) => ({ name, message: 'The Campaign domain is pure: no I/O imports. Do the I/O in libs/adapters or in an app.' })) },
      ],
    },
  },
  {
    // Where environment variables are legitimately read.
    files: ['apps/*/src/config.ts', 'apps/*/src/main.ts', 'infra/**/*.ts', 'libs/platform/testing/**/*.ts', '**/*.int.test.ts', 'tools/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
];
