import type { GatewayConfig } from './config';

/** The Campaign version and build the gateway reports (Logon's serverInfo, /r/test). */
export const VERSION = { major: 8, minor: 7, servicePack: 0 };
export const BUILD_NUMBER = '9400';

/** Who this server says it is: the instance, the Campaign version and build, the session timeout. */
export interface ServerIdentity {
  instanceName: string;
  buildNumber: string;
  version: { major: number; minor: number; servicePack: number };
  sessionTimeoutSeconds: number;
}

export function serverIdentity(config: Pick<GatewayConfig, 'INSTANCE_NAME' | 'SESSION_TTL_MS'>): ServerIdentity {
  return { instanceName: config.INSTANCE_NAME, buildNumber: BUILD_NUMBER, version: VERSION, sessionTimeoutSeconds: Math.round(config.SESSION_TTL_MS / 1000) };
}

/** `8.7.0`: the version as plain-text endpoints write it. */
export function versionText(version: ServerIdentity['version']): string {
  return `${version.major}.${version.minor}.${version.servicePack}`;
}
