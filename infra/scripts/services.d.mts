// Types of infra/scripts/services.mjs, for the TypeScript tests that import it.
import type { Supervisor, SupervisorPolicy } from './supervisor.mjs';

export type AppName = 'local-store' | 'cloud-executor' | 'staging-sync' | 'api-gateway';

export interface PlatformService {
  name: AppName;
  /** HTTP_PORT of the service; its /readyz is probed there. */
  port: number;
  /** ANSI colour code of its log prefix. */
  color: string;
}

/** `npm start`'s services and ports (8080–8083). */
export declare const SERVICES: readonly PlatformService[];

export declare function isReadyz(port: number, host?: string): Promise<boolean>;

export declare function startServices(options: {
  env: Record<string, string | undefined>;
  services?: readonly PlatformService[];
  write?: (text: string) => void;
  policy?: Partial<SupervisorPolicy>;
}): Supervisor;
