export { uniqueId } from './test.ids';
export { waitFor } from './wait.for';
export { testEndpoints, type TestEndpoints } from './test.endpoints';
export { createTestDatabase, type TestDatabase } from './test.database';
export { startTcpProxy, type TcpProxy } from './tcp.proxy';
export { freePort, startServiceProcess, type AppName, type ServiceProcess } from './service.process';
export { startTestBroker, type TestBroker } from './test.broker';
export { startTestPlatform, type TestPlatform, type TestPlatformOptions } from './platform.fixture';
