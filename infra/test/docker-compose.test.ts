/**
 * Keeps the container setup honest against the code: docker-compose.yml builds every app from the one
 * Dockerfile, restarts an app that dies, checks its /readyz, waits for healthy dependencies, lets
 * staging-sync scale, and sets only environment variables the apps document in apps/<app>/.env.example —
 * which in turn lists only keys the config schemas read.
 * Pure file checks; `docker compose config` runs too where Docker Compose is installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const APPS = ['api-gateway', 'local-store', 'staging-sync', 'cloud-executor'] as const;
type App = (typeof APPS)[number];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readText(relativePath: string): string {
  return readFileSync(join(ROOT, relativePath), 'utf8');
}

function loadCompose(): { services: Record<string, JsonObject> } {
  const doc = parse(readText('docker-compose.yml')) as Json;
  if (!isObject(doc) || !isObject(doc['services'])) throw new Error('docker-compose.yml has no services map');
  const services: Record<string, JsonObject> = {};
  for (const [name, service] of Object.entries(doc['services'])) {
    if (!isObject(service)) throw new Error(`service ${name} is not a map`);
    services[name] = service;
  }
  return { services };
}

function service(name: string): JsonObject {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** `environment:` / `build.args:` come as a map (KEY: value) or a list ("KEY=value" or bare "KEY"). */
function keyValues(value: Json | undefined): Map<string, string | null> {
  const out = new Map<string, string | null>();
  if (value === undefined || value === null) return out;
  if (Array.isArray(value)) {
    for (const entry of value) {
      const text = String(entry);
      const eq = text.indexOf('=');
      out.set(eq === -1 ? text : text.slice(0, eq), eq === -1 ? null : text.slice(eq + 1));
    }
    return out;
  }
  if (!isObject(value)) throw new Error(`expected a map or a list, got ${JSON.stringify(value)}`);
  for (const [key, v] of Object.entries(value)) out.set(key, v === null ? null : String(v));
  return out;
}

/** True when a `ports:` entry binds a fixed host port (which two replicas cannot both have). */
function publishesFixedHostPort(entry: Json): boolean {
  if (isObject(entry)) {
    const published = entry['published'];
    return published !== undefined && published !== null && String(published) !== '';
  }
  // "[ip:][host:]container[/protocol]"; "8082" or "127.0.0.1::8082" leave the host port to Docker.
  const parts = String(entry)
    .replace(/\/\w+$/, '')
    .split(':');
  return parts.length >= 2 && (parts[parts.length - 2] ?? '') !== '';
}

/** Keys of an .env.example file: `KEY=value` lines; blank lines and `#` comments are skipped. */
function envExampleKeys(app: App): string[] {
  const keys: string[] = [];
  readText(`apps/${app}/.env.example`)
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (!match?.[1]) throw new Error(`apps/${app}/.env.example:${index + 1} is neither KEY=value nor a comment: ${raw}`);
      keys.push(match[1]);
    });
  return keys;
}

/** The text of everything that defines an app's configuration schema. */
function configSource(app: App): string {
  return `${readText(`apps/${app}/src/config.ts`)}\n${readText('libs/platform/config/src/service.config.ts')}`;
}

/** Keys declared in a config shape: `  KEY_NAME: field.…` lines. */
function declaredConfigKeys(app: App): string[] {
  return [...configSource(app).matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:\s*field\./gm)].map((m) => m[1] ?? '');
}

const compose = loadCompose();

describe('docker-compose.yml', () => {
  it.each(APPS)('when %s is built by compose, then it builds from "." with the matching APP build argument', (app) => {
    const build = service(app)['build'];
    expect(isObject(build)).toBe(true);
    if (!isObject(build)) return;
    expect(build['context']).toBe('.');
    expect(build['dockerfile'] ?? 'Dockerfile').toBe('Dockerfile');
    expect(keyValues(build['args']).get('APP')).toBe(app);
  });

  it.each(APPS)('when %s runs under compose, then it has a healthcheck that is not disabled', (app) => {
    const healthcheck = service(app)['healthcheck'];
    expect(isObject(healthcheck)).toBe(true);
    if (!isObject(healthcheck)) return;
    expect(healthcheck['disable']).not.toBe(true);
    expect(healthcheck['test']).toBeDefined();
  });

  it.each(APPS)('when %s runs under compose, then its healthcheck asks /readyz on the port it listens on', (app) => {
    const healthcheck = service(app)['healthcheck'];
    const test = isObject(healthcheck) ? healthcheck['test'] : undefined;
    const command = Array.isArray(test) ? test.join(' ') : String(test);
    expect(command).toContain('/readyz');
    expect(command).toContain('process.env.HTTP_PORT');
    expect(keyValues(service(app)['environment']).get('HTTP_PORT')).toMatch(/^\d+$/);
  });

  it.each(APPS)('when %s dies under compose (crash, kill, any exit code), then Docker starts it again', (app) => {
    // "on-failure" would leave a service that exited 0 down; "no" (the default) leaves any dead service down.
    expect(['always', 'unless-stopped']).toContain(service(app)['restart']);
  });

  it.each(APPS)('when %s starts, then it waits for kafka to be healthy', (app) => {
    const dependsOn = service(app)['depends_on'];
    // The list form of depends_on only waits for "started"; health needs the map form.
    expect(isObject(dependsOn)).toBe(true);
    if (!isObject(dependsOn)) return;
    const kafka = dependsOn['kafka'];
    expect(isObject(kafka) ? kafka['condition'] : undefined).toBe('service_healthy');
  });

  it.each(APPS)('when %s depends on another service, then every dependency it waits for has a healthcheck', (app) => {
    const dependsOn = service(app)['depends_on'];
    if (!isObject(dependsOn)) return;
    for (const [dependency, spec] of Object.entries(dependsOn)) {
      expect({ dependency, condition: isObject(spec) ? spec['condition'] : undefined }).toEqual({ dependency, condition: 'service_healthy' });
      expect({ dependency, healthcheck: isObject(service(dependency)['healthcheck']) }).toEqual({ dependency, healthcheck: true });
    }
  });

  it('when staging-sync is scaled with --scale staging-sync=4, then nothing pins it to one container', () => {
    const stagingSync = service('staging-sync');
    expect(stagingSync['container_name']).toBeUndefined();
    const ports = stagingSync['ports'] ?? [];
    expect(Array.isArray(ports)).toBe(true);
    expect((Array.isArray(ports) ? ports : []).filter(publishesFixedHostPort)).toEqual([]);
    // One fixed identity for all replicas would make them share Kafka client ids and metric labels.
    expect(keyValues(stagingSync['environment']).has('SERVICE_INSTANCE_ID')).toBe(false);
  });

  it('when the gateway runs under compose, then it is published on host port 8080', () => {
    expect(service('api-gateway')['ports']).toContain('8080:8080');
  });

  it.each(APPS)('when compose sets an environment variable on %s, then the app documents it in its .env.example', (app) => {
    const documented = new Set(envExampleKeys(app));
    const undocumented = [...keyValues(service(app)['environment']).keys()].filter((key) => !documented.has(key));
    expect(undocumented).toEqual([]);
  });

  const hasCompose = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;
  (hasCompose ? it : it.skip)(
    hasCompose
      ? 'when docker compose is installed, then `docker compose config --quiet` accepts the file'
      : 'when docker compose is installed, then `docker compose config --quiet` accepts the file (skipped: docker compose is not installed here)',
    () => {
      const result = spawnSync('docker', ['compose', '-f', 'docker-compose.yml', 'config', '--quiet'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
    },
  );
});

describe('apps/<app>/.env.example', () => {
  it.each(APPS)('when %s/.env.example lists a key, then that key occurs in the app config source', (app) => {
    const source = configSource(app);
    const unknown = envExampleKeys(app).filter((key) => !new RegExp(`\\b${key}\\b`).test(source));
    expect(unknown).toEqual([]);
  });

  it.each(APPS)('when %s declares a config key, then its .env.example lists it exactly once', (app) => {
    const keys = envExampleKeys(app);
    const declared = declaredConfigKeys(app);
    expect(declared.length).toBeGreaterThan(0);
    expect(declared.filter((key) => !keys.includes(key))).toEqual([]);
    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
  });

  it.each(APPS)('when %s/.env.example lists a key, then a comment line directly above describes it', (app) => {
    const lines = readText(`apps/${app}/.env.example`).split(/\r?\n/);
    const uncommented = lines
      .map((line, index) => ({ line: line.trim(), previous: (lines[index - 1] ?? '').trim() }))
      .filter(({ line }) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line))
      .filter(({ previous }) => !previous.startsWith('#') || previous.length < 3)
      .map(({ line }) => line);
    expect(uncommented).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readText('Dockerfile');

  it('when an image is built, then it selects the app with ARG APP, runs as node and stops on SIGTERM with a /readyz healthcheck', () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/^ARG APP$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/readyz/m);
    expect(dockerfile).toMatch(/^CMD .*node \$\(cat \\"dist\/apps\/\$\{APP\}\/node-flags\\"\) --enable-source-maps .*dist\/apps\/\$\{APP\}\/main\.js/m);
  });
});
