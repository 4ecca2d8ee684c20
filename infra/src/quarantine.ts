/**
 * The quarantine, for administrators: changes and messages a consumer could not process, set aside with their reason
 * (and the later ones of the same key held behind them). docs/staging.md#quarantine.
 *   npm run quarantine                      → list what is set aside in both databases (newest first)
 *   npm run quarantine -- show local:42     → one entry, with the message it holds
 *   npm run quarantine -- replay local:42   → send it (and the ones held behind it) back to be processed again
 *   npm run quarantine -- discard cloud:7   → drop it; the ones held behind it are processed
 * The databases: LOCAL_DATABASE_URL and CLOUD_DATABASE_URL (the services' own settings; defaults as theirs). The
 * service owning the consumer picks a released entry up within seconds.
 */
import pg from 'pg';
import { listQuarantined, releaseQuarantined, type Pool, type QuarantineRow } from '@cap/platform-postgres';

const DATABASES = {
  local: process.env['LOCAL_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/cap_local',
  cloud: process.env['CLOUD_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/cap_cloud',
} as const;
type DatabaseName = keyof typeof DATABASES;

const USAGE = 'usage: npm run quarantine [-- list | show <local|cloud>:<id> | replay <local|cloud>:<id> | discard <local|cloud>:<id>]';

function parseRef(ref: string | undefined): { db: DatabaseName; id: string } {
  const m = /^(local|cloud):(\d{1,19})$/.exec(ref ?? '');
  if (!m) throw new Error(`expected <local|cloud>:<id>, got '${ref ?? ''}'\n${USAGE}`);
  return { db: m[1] as DatabaseName, id: m[2]! };
}

async function withPool<T>(db: DatabaseName, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: DATABASES[db], max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

function line(db: DatabaseName, r: QuarantineRow): string {
  return [
    `${db}:${r.id}`.padEnd(12),
    r.state.padEnd(11),
    r.consumer.padEnd(34),
    (r.key ?? '').slice(0, 40).padEnd(41),
    r.quarantinedAt.toISOString(),
    `${r.reasonCode}: ${r.reason}`.slice(0, 160),
  ].join(' ');
}

async function main(argv: string[]): Promise<void> {
  const [command = 'list', ref] = argv;
  if (command === 'list') {
    for (const db of Object.keys(DATABASES) as DatabaseName[]) {
      const rows = await withPool(db, (pool) => listQuarantined(pool)).catch((err: Error) => {
        process.stdout.write(`${db}: cannot read (${err.message})\n`);
        return [];
      });
      process.stdout.write(`${db}: ${rows.length === 0 ? 'nothing set aside' : `${rows.length} entr${rows.length === 1 ? 'y' : 'ies'} (newest first)`}\n`);
      for (const r of rows) process.stdout.write(`  ${line(db, r)}\n`);
    }
    return;
  }
  const { db, id } = parseRef(ref);
  if (command === 'show') {
    const found = (await withPool(db, (pool) => listQuarantined(pool, { limit: 100_000 }))).find((r) => r.id === id);
    if (!found) throw new Error(`no quarantined entry ${db}:${id}`);
    process.stdout.write(`${JSON.stringify({ ...found, id: `${db}:${found.id}` }, null, 2)}\n`);
    return;
  }
  if (command === 'replay' || command === 'discard') {
    const outcome = await withPool(db, (pool) => releaseQuarantined(pool, id, command));
    process.stdout.write(
      `${command === 'replay' ? 'released' : `discarded ${outcome.discarded}, released`} ${outcome.released} message(s); the owning service sends them back within seconds\n`,
    );
    return;
  }
  throw new Error(USAGE);
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
