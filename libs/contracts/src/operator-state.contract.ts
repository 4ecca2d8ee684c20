import { z } from 'zod';

/**
 * An operator's current security state, kept in Redis by local-store (which owns operators) and read by every
 * gateway replica on every call through its invalidated client-side cache: a rights change, a disabled or a
 * deleted operator reaches live sessions as soon as Redis invalidates the copy (milliseconds), on every replica.
 */
export const operatorStateSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('operator'),
    id: z.string().regex(/^\d{1,19}$/),
    login: z.string().min(1).max(128),
    label: z.string().max(256),
    rights: z.array(z.string().max(64)).max(256),
    timezone: z.string().max(64),
    disabled: z.boolean(),
    /** May use "login/password" session tokens (Message Center style). */
    allowLoginToken: z.boolean(),
  }),
  /** The operator no longer exists: every session of it ends. */
  z.object({ kind: z.literal('deleted'), id: z.string().regex(/^\d{1,19}$/) }),
]);
export type OperatorState = z.infer<typeof operatorStateSchema>;

/** The Redis key of an operator's state, under the deployment's key prefix (REDIS_KEY_PREFIX, shared by services). */
export function operatorStateKey(keyPrefix: string, operatorId: string): string {
  return `${keyPrefix}operator:${operatorId}`;
}

/** RPC method of local-store answering an operator's state by id (a gateway filling a missing key). */
export const OPERATOR_STATE_METHOD = 'operator.state';
