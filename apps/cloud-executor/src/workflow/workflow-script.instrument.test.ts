import { instrumentLoops, lineInStack, LOOP_LINE_GLOBAL, trackAsyncFunctions } from './workflow-script.instrument';

const M = LOOP_LINE_GLOBAL;

describe('loop instrumentation (where a runaway loop is)', () => {
  it('when loops have block bodies, then each body starts with its line and no line moves', () => {
    const src = 'var n = 0;\nwhile (true) {\n  n++;\n}\nfor (var i = 0; i < 3; i++) { n--; }';
    const out = instrumentLoops(src);
    expect(out).toBe(`var n = 0;\nwhile (true) {${M}=2;\n  n++;\n}\nfor (var i = 0; i < 3; i++) {${M}=5; n--; }`);
    expect(out.split('\n')).toHaveLength(src.split('\n').length);
  });

  it('when loop bodies are single statements or nested loops, then they are wrapped in braces that keep the meaning', () => {
    expect(instrumentLoops('while (a) while (b) x();')).toBe(`while (a) {${M}=1;while (b) {${M}=1;x();}}`);
    expect(instrumentLoops('do x()\nwhile (c)')).toBe(`do {${M}=1;x()}\nwhile (c)`);
    expect(instrumentLoops('if (a) for (k in o) f(k); else g();')).toBe(`if (a) for (k in o) {${M}=1;f(k);} else g();`);
    expect(instrumentLoops('for (const v of list) ;')).toBe(`for (const v of list) {${M}=1;;}`);
    expect(instrumentLoops('function f() {\n  for (;;) {}\n}')).toBe(`function f() {\n  for (;;) {${M}=2;}\n}`);
  });

  it('when loop keywords only appear in strings, comments or regular expressions, then nothing is inserted', () => {
    const src = "var s = 'while (true) {}'; // for (;;) {}\nvar r = /while\\(x\\)/;";
    expect(instrumentLoops(src)).toBe(src);
  });

  it('when the script does not parse, then it is returned unchanged (QuickJS reports the error)', () => {
    expect(instrumentLoops('var r = <x/>;\nwhile (true) {}')).toBe('var r = <x/>;\nwhile (true) {}');
  });

  it('when a QuickJS stack names the script, then its first line is read', () => {
    expect(lineInStack('    at f (campaign-api.js:40:3)\n    at <eval> (wkf-script.js:12:5)\n', 'wkf-script.js')).toBe(12);
    expect(lineInStack('    at wkf-script.js:2:9\n', 'wkf-script.js')).toBe(2);
    expect(lineInStack(undefined, 'wkf-script.js')).toBeUndefined();
  });
});

describe('async function tracking (rejections nothing handles)', () => {
  it('when a script declares async functions, arrows and methods, then each hands its promise to __capAsync and no line moves', () => {
    const src =
      'async function f(a,\n  b = 2) {\n  await a;\n}\nvar g = async x => x + 1;\nvar o = { async m() { return this; } };\nclass C { static async s() {} }';
    const out = trackAsyncFunctions(src);
    expect(out).toBe(
      ' function f() { return __capAsync(arguments, async (a,\n  b = 2) => {\n  await a;\n}); }\n' +
        'var g = (...__capArgs) => __capAsync(__capArgs, async x => x + 1);\n' +
        'var o = {  m() { return __capAsync(arguments, async () => { return this; }); } };\n' +
        'class C { static  s() { return __capAsync(arguments, async () => {}); } }',
    );
    expect(out.split('\n')).toHaveLength(src.split('\n').length);
  });

  it('when async functions nest or end together, then the closings come in the right order', () => {
    expect(trackAsyncFunctions('var h = async () => async function () {};')).toBe(
      'var h = (...__capArgs) => __capAsync(__capArgs, async () =>  function () { return __capAsync(arguments, async () => {}); });',
    );
  });

  it('when a script has no async function, only async generators, or does not parse, then it is unchanged', () => {
    for (const src of ['var async = 1; async(2);', 'async function* g() { yield 1; }', 'var x = async () => <x/>;']) expect(trackAsyncFunctions(src)).toBe(src);
  });
});
