import { readCallArgs, readLogLine, readScriptResults } from './workflow-script.crossing';

const MAX = 1_000;
const results = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ failure: null, rejection: null, vars: [], instanceVars: [], taskVars: [], dropped: [], ...over });

describe('what crosses from the script to the engine (JSON text made in the sandbox, read on the engine side)', () => {
  it('when the results are well formed, then the variables come back as records, in order, with the dropped names', () => {
    const read = readScriptResults(
      results({
        vars: [
          ['b', 1],
          ['a', 'text'],
          ['constructor', true],
        ],
        taskVars: [['n', 2.5]],
        dropped: ['vars.list'],
      }),
      MAX,
    );
    expect(read).toEqual({
      ok: true,
      results: { failure: null, rejection: null, vars: { b: 1, a: 'text', constructor: true }, instanceVars: {}, taskVars: { n: 2.5 }, dropped: ['vars.list'] },
    });
    expect(read.ok && Object.keys(read.results.vars)).toEqual(['b', 'a', 'constructor']);
  });

  it('when the results text is shaped by the script (not JSON, a list that is a number, a variable that is an object, unknown fields), then a malformed-crossing failure, never an exception', () => {
    const malformed = [
      'not json',
      '5',
      'null',
      results({ dropped: 5 }),
      results({ dropped: [1] }),
      results({ vars: { a: 1 } }),
      results({ vars: [['a', { nested: 1 }]] }),
      results({ vars: [['a', null]] }),
      results({ vars: [['a', 1, 'extra']] }),
      results({ vars: [['__proto__', 'x']] }),
      results({ failure: 7 }),
      results({ rejection: { name: 'Error' } }),
      results({ extra: true }),
      JSON.stringify({ failure: null }),
      JSON.stringify({ overLimit: { scope: 'elsewhere', name: 'x' } }),
    ];
    for (const text of malformed) {
      const read = readScriptResults(text, MAX);
      expect(read).toMatchObject({ ok: false, kind: 'protocol' });
      expect(!read.ok && read.message).toMatch(/^the script's results crossed the sandbox boundary malformed/);
    }
  });

  it("when a scope's variables are over the limit as UTF-8 JSON, or the sandbox reports one over it, then a variables-limit failure naming the scope", () => {
    // 450 two-byte characters: 908 bytes as JSON; with the second variable 1,015 bytes, though only 565 characters.
    const wide = 'é'.repeat(450);
    expect(readScriptResults(results({ instanceVars: [['a', wide]] }), MAX)).toMatchObject({ ok: true });
    expect(
      readScriptResults(
        results({
          instanceVars: [
            ['a', wide],
            ['b', 'x'.repeat(100)],
          ],
        }),
        MAX,
      ),
    ).toEqual({
      ok: false,
      kind: 'variablesLimit',
      message: 'the variables in instance.vars are larger than WORKFLOW_VARIABLES_MAX_BYTES (1000 bytes as JSON)',
    });
    expect(readScriptResults(JSON.stringify({ overLimit: { scope: 'task.vars', name: 'big' } }), MAX)).toEqual({
      ok: false,
      kind: 'variablesLimit',
      message: 'the variables in task.vars are larger than WORKFLOW_VARIABLES_MAX_BYTES (1000 bytes as JSON) at task.vars.big',
    });
  });

  it('when a log line or host call arguments are malformed, then they are refused rather than passed on', () => {
    expect(readLogLine('["info","hello"]')).toEqual({ level: 'info', message: 'hello' });
    for (const bad of ['["debug","x"]', '["info",5]', '5', '{"level":"info"}', 'nope', '["info","x","y"]']) expect(readLogLine(bad)).toBeUndefined();
    expect(readCallArgs('{"name":"x"}')).toEqual({ name: 'x' });
    for (const bad of ['nope', '5', '"text"', 'null', '[1]']) expect(readCallArgs(bad)).toBeUndefined();
  });
});
