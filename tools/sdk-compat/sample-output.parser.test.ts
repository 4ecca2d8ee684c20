import {
  STDERR_TAG,
  formatMarkdownRows,
  formatMarkdownSection,
  formatTable,
  listSampleTitles,
  parseSampleRun,
  replaceSection,
  splitTaggedOutput,
  summarizeError,
  type SampleFileResult,
} from './sample-output.parser';

// Fixture text written for these tests in the shape the SDK's sample helper prints: a banner per sub-sample
// ("Sample ........... <title>"), then either the sample's own lines or an error on stderr.
const banner = (title: string) => [
  '================================================================================',
  `Sample ........... ${title}`,
  'Labels ........... [Basics]',
  'Description ...... ',
  '',
];
const out = (text: string) => ({ stream: 'out' as const, text });
const err = (text: string) => ({ stream: 'err' as const, text });

const inspectedFault = [
  'CampaignException {',
  "  name: 'CampaignException',",
  `  message: "500 - Error SOAP-ENV:Client calling method 'xtk:queryDef#ExecuteQuery': XTK-170036 Unknown schema 'nms:widget' in queryDef",`,
  '  statusCode: 500,',
  "  errorCode: 'XTK-170036',",
  '  cause: undefined',
  '}',
];

describe('listSampleTitles', () => {
  it('when a sample file declares sub-samples, then their titles come back in file order, repeats kept', () => {
    const source = [
      'await utils.sample({',
      '    title: "Read one thing",',
      "    labels: [ 'x' ],",
      '});',
      "await utils.sample({ title: 'Read a \\'quoted\\' thing', code: async () => {} });",
      'await utils.sample({',
      '    title: `Read one thing`,',
      '});',
    ].join('\n');
    expect(listSampleTitles(source)).toEqual(['Read one thing', "Read a 'quoted' thing", 'Read one thing']);
  });

  it('when a file has no sub-samples, then the list is empty', () => {
    expect(listSampleTitles('utils.logon(async (client) => { console.log("hello"); });')).toEqual([]);
  });
});

describe('splitTaggedOutput', () => {
  it('when stderr lines carry the tag, then each line is attributed to its stream in order', () => {
    const text = ['first', `${STDERR_TAG}oops`, `${STDERR_TAG}  detail`, 'second', ''].join('\n');
    expect(splitTaggedOutput(text)).toEqual([out('first'), err('oops'), err('  detail'), out('second')]);
  });
});

describe('summarizeError', () => {
  it('when an inspected CampaignException was printed, then its message line is the summary', () => {
    expect(summarizeError(inspectedFault)).toBe(
      "500 - Error SOAP-ENV:Client calling method 'xtk:queryDef#ExecuteQuery': XTK-170036 Unknown schema 'nms:widget' in queryDef",
    );
  });

  it('when the helper printed "Failed to run sample:" with an HTTP error object, then its statusText is the summary', () => {
    const lines = [
      'Failed to run sample: HttpError {',
      '  statusCode: 500,',
      "  statusText: 'Error: getaddrinfo ENOTFOUND example.invalid',",
      '  data: undefined',
      '}',
    ];
    expect(summarizeError(lines)).toBe('Error: getaddrinfo ENOTFOUND example.invalid');
  });

  it('when a plain Error with a stack was printed, then its first line is the summary', () => {
    const lines = ['Failed to run sample: TypeError: Cannot read properties of undefined (reading "x")', '    at Object.code (/somewhere/sample.js:10:5)'];
    expect(summarizeError(lines)).toBe('TypeError: Cannot read properties of undefined (reading "x")');
  });

  it('when the message is very long, then the summary is cut to a bounded length', () => {
    const summary = summarizeError([`Error: ${'x'.repeat(5_000)}`]);
    expect(summary.length).toBeLessThanOrEqual(240);
    expect(summary.startsWith('Error: xxx')).toBe(true);
  });
});

describe('parseSampleRun', () => {
  it('when one sub-sample prints an error and the others do not, then only that one fails, with its message', () => {
    const lines = [
      ...banner('Alpha').map(out),
      out('>> alpha ok'),
      ...banner('Beta').map(out),
      out("Connected to Campaign instance 'cap'"),
      ...inspectedFault.map(err),
      ...banner('Gamma').map(out),
      out('>> gamma ok'),
    ];
    const results = parseSampleRun({ lines, exitCode: 0, timedOut: false }, ['Alpha', 'Beta', 'Gamma']);
    expect(results.map((r) => [r.title, r.status])).toEqual([
      ['Alpha', 'passed'],
      ['Beta', 'failed'],
      ['Gamma', 'passed'],
    ]);
    expect(results[1]?.error).toContain('XTK-170036');
  });

  it('when two sub-samples share a title, then each keeps its own verdict', () => {
    const lines = [...banner('Same').map(out), err('Failed to run sample: Error: first'), ...banner('Same').map(out), out('fine')];
    const results = parseSampleRun({ lines, exitCode: 0, timedOut: false }, ['Same', 'Same']);
    expect(results.map((r) => r.status)).toEqual(['failed', 'passed']);
  });

  it('when the file times out, then the running sub-sample fails with the timeout and the rest are not run', () => {
    const lines = [...banner('One').map(out), out('ok'), ...banner('Two').map(out), out('waiting…')];
    const results = parseSampleRun({ lines, exitCode: null, timedOut: true, timeoutMs: 60_000 }, ['One', 'Two', 'Three']);
    expect(results).toEqual([
      { title: 'One', status: 'passed' },
      { title: 'Two', status: 'failed', error: 'timed out after 60 s' },
      { title: 'Three', status: 'not run' },
    ]);
  });

  it('when the file times out before its first banner, then set-up fails with the timeout and every sub-sample is not run', () => {
    const results = parseSampleRun({ lines: [], exitCode: null, timedOut: true, timeoutMs: 1_500 }, ['One']);
    expect(results).toEqual([
      { title: '(set-up)', status: 'failed', error: 'timed out after 1.5 s' },
      { title: 'One', status: 'not run' },
    ]);
  });

  it('when the process exits non-zero without printing, then the running sub-sample fails with the exit code', () => {
    const lines = [...banner('One').map(out)];
    const results = parseSampleRun({ lines, exitCode: 3, timedOut: false }, ['One', 'Two']);
    expect(results).toEqual([
      { title: 'One', status: 'failed', error: 'exited with code 3' },
      { title: 'Two', status: 'not run' },
    ]);
  });

  it('when a file has no sub-samples, then the whole file is one result', () => {
    const passed = parseSampleRun({ lines: [out('did things')], exitCode: 0, timedOut: false }, []);
    expect(passed).toEqual([{ title: '(whole file)', status: 'passed' }]);
    const failed = parseSampleRun({ lines: [out('did things'), ...inspectedFault.map(err)], exitCode: 0, timedOut: false }, []);
    expect(failed[0]?.status).toBe('failed');
    expect(failed[0]?.error).toContain("Unknown schema 'nms:widget'");
  });

  it('when Node prints a warning on stderr, then it is not counted as a failure', () => {
    const lines = [
      ...banner('One').map(out),
      err('(node:1234) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.'),
      err('(Use `node --trace-deprecation ...` to show where the warning was created)'),
    ];
    expect(parseSampleRun({ lines, exitCode: 0, timedOut: false }, ['One'])).toEqual([{ title: 'One', status: 'passed' }]);
  });

  it('when a sub-sample fails before the file crashes, then the exit code does not hide its message', () => {
    const lines = [...banner('One').map(out), err('Error: boom'), err('    at x (y.js:1:1)')];
    expect(parseSampleRun({ lines, exitCode: 1, timedOut: false }, ['One'])).toEqual([{ title: 'One', status: 'failed', error: 'Error: boom' }]);
  });

  it('when stderr output comes before the first banner of a file with sub-samples, then it is reported as set-up', () => {
    const lines = [err('Environment variable ACC_URL is not defined')];
    const results = parseSampleRun({ lines, exitCode: 1, timedOut: false }, ['One']);
    expect(results).toEqual([
      { title: '(set-up)', status: 'failed', error: 'Environment variable ACC_URL is not defined' },
      { title: 'One', status: 'not run' },
    ]);
  });
});

describe('formatting', () => {
  const files: SampleFileResult[] = [
    {
      file: '000 - a.js',
      durationMs: 1_500,
      results: [
        { title: 'Alpha', status: 'passed' },
        { title: 'Beta | with a pipe', status: 'failed', error: 'XTK-170036 Unknown schema' },
      ],
    },
    { file: '001 - b.js', durationMs: 800, results: [{ title: '(whole file)', status: 'not run' }] },
  ];

  it('when results are tabulated, then each file has its counts and each failure its first error line', () => {
    const table = formatTable(files);
    expect(table).toContain('000 - a.js');
    expect(table).toContain('1/2 passed');
    expect(table).toMatch(/FAILED\s+Beta \| with a pipe\s+XTK-170036 Unknown schema/);
    expect(table).toMatch(/total: 1 passed, 1 failed, 1 not run/);
  });

  it('when results are written as markdown rows, then pipes are escaped and every sub-sample has a row', () => {
    const rows = formatMarkdownRows(files).split('\n');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toBe('| `000 - a.js` | Beta \\| with a pipe | failed | XTK-170036 Unknown schema |');
  });

  it('when the generated section is built, then it dates the run, names the SDK and counts every status', () => {
    const section = formatMarkdownSection(files, { date: '2026-12-07', sdkVersion: '1.2.0', url: 'http://127.0.0.1:8080' });
    expect(section.split('\n')[0]).toBe('Measured 2026-12-07 with `@adobe/acc-js-sdk` 1.2.0 against http://127.0.0.1:8080: 1 passed, 1 failed, 1 not run.');
    expect(section).toContain('| `000 - a.js` | 1 | 1 | 0 |');
    expect(section).toContain('| `001 - b.js` | (whole file) | not run |  |');
    const prepared = formatMarkdownSection(files, { date: '2026-12-07', sdkVersion: '1.2.0', url: 'http://127.0.0.1:8080', prepared: true });
    expect(prepared.split('\n')[0]).toContain('(with `--prepare`: the fixture');
  });

  it('when a document section is replaced, then only the text between the markers changes', () => {
    const doc = 'intro\n<!-- b -->\nold\n<!-- e -->\nafter\n';
    expect(replaceSection(doc, '<!-- b -->', '<!-- e -->', 'new rows')).toBe('intro\n<!-- b -->\nnew rows\n<!-- e -->\nafter\n');
    expect(() => replaceSection('no markers', '<!-- b -->', '<!-- e -->', 'x')).toThrow(/markers/);
  });
});
