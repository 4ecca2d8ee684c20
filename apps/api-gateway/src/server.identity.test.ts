import { BUILD_NUMBER, serverIdentity, VERSION, versionText } from './server.identity';

describe('server identity', () => {
  it('when built from the configuration, then it names the instance and gives the session timeout in whole seconds', () => {
    expect(serverIdentity({ INSTANCE_NAME: 'prod', SESSION_TTL_MS: 1_800_400 })).toEqual({
      instanceName: 'prod',
      buildNumber: BUILD_NUMBER,
      version: VERSION,
      sessionTimeoutSeconds: 1800,
    });
  });

  it('when written as text, then the version reads major.minor.servicePack', () => {
    expect(versionText({ major: 8, minor: 7, servicePack: 0 })).toBe('8.7.0');
  });
});
