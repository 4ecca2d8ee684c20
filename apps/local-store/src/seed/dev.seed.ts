import { randomBytes, randomUUID } from 'node:crypto';
import type { Schema } from '@cap/campaign-schema';
import { compileWritePlan, planWrite } from '@cap/campaign-write';
import { parseXml } from '@cap/campaign-xml';
import { executeWriteSteps } from '@cap/campaign-postgres';
import type { Logger } from '@cap/platform-logger';
import { withTransaction, type Pool } from '@cap/platform-postgres';
import { hashPassword } from '@cap/platform-secrets';

export interface DevSeedOptions {
  adminPassword: string;
  mcPassword: string;
}

/** The workflow the SDK samples and our tests drive: start → external signal "signal" → end. */
const WKF1_ACTIVITIES =
  '<activities><start name="start"><transition target="signal"/></start><external name="signal" label="Signal"><transition target="end"/></external><end name="end"/></activities>';

/**
 * Development data (npm start; DEV_SEED=true): operators admin and mc (mc may use "login/password" session
 * tokens, as Message Center clients do), option XtkDatabaseId, service "newsletter", workflow WKF1 with an
 * external-signal activity "signal", and the Message Center event type "welcome". Written through the same reconciliation as API writes; idempotent.
 */
export async function seedDevelopmentData(pool: Pool, schemas: ReadonlyMap<string, Schema>, options: DevSeedOptions, logger: Logger): Promise<void> {
  const docs = [
    '<operator xtkschema="xtk:operator" name="admin" label="Administrator" rights="admin" email="admin@localhost"/>',
    '<operator xtkschema="xtk:operator" name="mc" label="Message Center" rights="messageCenter"/>',
    '<service xtkschema="nms:service" name="newsletter" label="Newsletter" type="email" mode="newsletter"/>',
    `<workflow xtkschema="xtk:workflow" internalName="WKF1" label="Sample workflow with an external signal"><activities>${escapeXml(WKF1_ACTIVITIES)}</activities></workflow>`,
    // Message Center event types, as the SDK's sample lists them (xtk:enumValue where [enum/@name]='eventType').
    '<enum xtkschema="xtk:enum" name="eventType" label="Event types"/>',
    '<enumValue xtkschema="xtk:enumValue" _key="@name" name="welcome" label="Welcome" stringValue="welcome"><enum name="eventType" _operation="none"/></enumValue>',
  ];
  const adminHash = await hashPassword(options.adminPassword);
  const mcHash = await hashPassword(options.mcPassword);
  await withTransaction(pool, async (client) => {
    for (const xml of docs) {
      const steps = compileWritePlan(planWrite(parseXml(xml), schemas, { mode: 'write', now: new Date(), newId: randomUUID }));
      await executeWriteSteps(client, steps);
    }
    // The instance id is created once and then kept.
    const databaseId = `u${randomBytes(20).toString('hex').toUpperCase()}`;
    await client.query(
      `INSERT INTO xtk_option (name, label, data_type, string_value, created, last_modified)
       SELECT 'XtkDatabaseId', 'Database id', 6, $1, now(), now() WHERE NOT EXISTS (SELECT 1 FROM xtk_option WHERE name = 'XtkDatabaseId')`,
      [databaseId],
    );
    for (const [login, hash, loginToken] of [
      ['admin', adminHash, false],
      ['mc', mcHash, true],
    ] as const) {
      await client.query(
        `INSERT INTO cap_operator_credential (login, password_hash, allow_login_token) VALUES ($1, $2, $3)
         ON CONFLICT (login) DO UPDATE SET password_hash = EXCLUDED.password_hash, allow_login_token = EXCLUDED.allow_login_token, updated_at = now()`,
        [login, hash, loginToken],
      );
    }
  });
  logger.info({ event: 'seed.applied', operators: ['admin', 'mc'] }, 'development data seeded');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
