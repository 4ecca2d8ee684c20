// Preloaded (`node --require`) into each sample process by tools/sdk-compat/run-samples.ts: whatever the sample
// writes to stderr goes to stdout instead, each line prefixed with the tag the runner passes in
// SDK_SAMPLES_STDERR_TAG, so that both streams reach the runner in the order they were written.
'use strict';

const tag = process.env.SDK_SAMPLES_STDERR_TAG;
if (tag) {
  let atLineStart = true;
  process.stderr.write = function writeTagged(chunk, encoding, callback) {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
    let tagged = '';
    for (const piece of text.split(/(?<=\n)/)) {
      if (piece === '') continue;
      tagged += (atLineStart ? tag : '') + piece;
      atLineStart = piece.endsWith('\n');
    }
    return process.stdout.write(tagged, typeof encoding === 'function' ? encoding : callback);
  };
}
