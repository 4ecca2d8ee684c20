import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { memoUntilFailure } from '@cap/platform-resilience';
import type { ChannelAdapter, ChannelBatch, SendOutcome } from './channel.adapter';

/**
 * The file (outbox) channel: each batch is written to `<dir>/<key>.jsonl`, one JSON object per line
 * (`{ id, kind, to, from, subject, body, meta, sentAt }`). The file is written under a temporary name and
 * renamed, so a reader never sees half a batch, and a batch sent again under the same key replaces its file
 * instead of adding duplicates. For development, tests, and hand-off to another sending system.
 */
export function createFileChannel(options: { dir: string; name?: string }): ChannelAdapter {
  // Created on the first batch; a failed mkdir is tried again by the next (the directory may appear later).
  const ready = memoUntilFailure(() => mkdir(options.dir, { recursive: true }));
  return {
    name: options.name ?? 'file',
    async send(batch: ChannelBatch): Promise<SendOutcome[]> {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/.test(batch.key)) throw new Error(`file channel: '${batch.key}' cannot name a batch file`);
      await ready();
      const sentAt = new Date().toISOString();
      const lines = batch.messages.map((m) =>
        JSON.stringify({ id: m.id, kind: m.kind, to: m.to, from: m.from, subject: m.subject, body: m.body, meta: m.meta ?? {}, sentAt }),
      );
      const path = join(options.dir, `${batch.key}.jsonl`);
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, lines.length > 0 ? `${lines.join('\n')}\n` : '');
      await rename(temporary, path);
      return batch.messages.map(() => ({ status: 'sent' }));
    },
    async check() {
      await mkdir(options.dir, { recursive: true });
    },
    async close() {
      // Nothing to release: every batch is written and closed by send().
    },
  };
}
