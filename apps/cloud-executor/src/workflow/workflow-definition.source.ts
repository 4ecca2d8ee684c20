import { SERVICES, TOPICS } from '@cap/contracts';
import { escapeAttr, type XmlElement } from '@cap/campaign-xml';
import type { RpcClient } from '@cap/platform-kafka';

/** An xtk:workflow record as the engine needs it. */
export interface WorkflowRecord {
  /** @id (64-bit, decimal). */
  id: string;
  internalName: string;
  /** The activities memo (XML text, '' when empty). */
  activities: string;
}

/** How a caller designates a workflow: its numeric id or its internal name (checked by parseWorkflowRef). */
export type WorkflowRef = { id: string } | { internalName: string };

/** Where definitions live: xtk:workflow is a local schema, owned by local-store. */
export interface WorkflowDefinitionSource {
  find(ref: WorkflowRef): Promise<WorkflowRecord | undefined>;
}

const INTERNAL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * Reads a workflowId parameter: digits are an @id, anything else an @internalName. Returns undefined for
 * text that cannot be either (no such workflow can exist), so nothing from the request reaches a query
 * unless it has one of these two shapes.
 */
export function parseWorkflowRef(text: string): WorkflowRef | undefined {
  const t = text.trim();
  if (/^\d{1,18}$/.test(t)) return { id: String(BigInt(t)) };
  return INTERNAL_NAME.test(t) ? { internalName: t } : undefined;
}

export function describeRef(ref: WorkflowRef): string {
  return 'id' in ref ? ref.id : ref.internalName;
}

/** Reads xtk:workflow from local-store over RPC (`data.query`, the queryDef API every client uses). */
export function createWorkflowDefinitionSource(deps: { rpc: RpcClient; timeoutMs: number }): WorkflowDefinitionSource {
  return {
    async find(ref) {
      // Both shapes are checked by parseWorkflowRef: digits, or a name without quotes.
      const condition = 'id' in ref ? `@id = ${ref.id}` : `@internalName = '${ref.internalName}'`;
      const queryDef =
        '<queryDef schema="xtk:workflow" operation="getIfExists">' +
        '<select><node expr="@id"/><node expr="@internalName"/><node expr="activities"/></select>' +
        `<where><condition expr="${escapeAttr(condition)}"/></where></queryDef>`;
      const doc = await deps.rpc.request<XmlElement>(
        { service: SERVICES.localStore, topic: TOPICS.localStoreRequests },
        'data.query',
        { queryDef },
        { timeoutMs: deps.timeoutMs, idempotent: true },
      );
      const id = doc.attrs['id'];
      if (!id) return undefined;
      return {
        id,
        internalName: doc.attrs['internalName'] ?? id,
        activities: doc.children.find((c) => c.local === 'activities')?.text ?? '',
      };
    },
  };
}
