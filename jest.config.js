// Two jest projects: `unit` (*.test.ts, pure logic, fakes welcome) and `integration` (*.int.test.ts, real
// Kafka, PostgreSQL and Redis; run serially by `npm test`). TypeScript is compiled by swc; path aliases
// come from tsconfig.base.json so tests import libs exactly as the apps do.
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = Object.fromEntries(Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target}`]));

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
    // A few dependencies of the SDK's jsdom ship ES modules only: compiled to CommonJS for jest.
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(@exodus|parse5|entities|whatwg-url|tr46|webidl-conversions|data-urls|html-encoding-sniffer|@asamuzakjp|@csstools|cssstyle|decimal\\.js)/)',
  ],
  moduleNameMapper,
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/', '<rootDir>/infra/.data/', '<rootDir>/infra/.cache/'],
};

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,infra,tools}/**/*.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.int\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,infra}/**/*.int.test.ts'],
      globalSetup: '<rootDir>/libs/platform/testing/src/global-setup.ts',
      // The second lets each test platform delete its topics when it stops (see the file).
      setupFilesAfterEnv: ['<rootDir>/libs/platform/testing/src/jest.setup.ts', '<rootDir>/libs/platform/kafka/test/topic-cleanup.setup.ts'],
      slowTestThreshold: 30,
    },
  ],
};
