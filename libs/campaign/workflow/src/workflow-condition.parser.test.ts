import { ConditionSyntaxError, evaluateCondition, parseCondition } from './workflow-condition.parser';

const scope = { vars: { count: '12', mode: 'fast', empty: '', flag: 'true' }, instanceVars: { limit: '10', region: 'EU' } };
const check = (text: string) => evaluateCondition(parseCondition(text), scope);

describe('test activity conditions', () => {
  it.each([
    ['vars.count > 10', true],
    ['vars.count > 100', false],
    ['vars.count >= instance.vars.limit', true],
    ["vars.mode == 'fast'", true],
    ['vars.mode = "slow"', false],
    ["vars.mode <> 'slow'", true],
    ["$(instance/vars/@region) = 'EU' and $(vars/@count) < 20", true],
    ["instance.vars.region == 'US' || vars.count == 12", true],
    ['!(vars.count > 10)', false],
    ['not vars.empty', true],
    ['vars.flag', true],
    ['vars.flag == true', true],
    ['vars.missing', false],
    ["vars.missing == ''", true],
    ['vars.count == 12.0', true],
    ['-1 < vars.count', true],
    ["'10' > '9'", true], // numbers, even when written as text (variables are text)
    ["vars.mode < 'slow'", true], // text comparison when a side is not a number
  ])('when the condition is %s, then it is %s', (text, expected) => {
    expect(check(text)).toBe(expected);
  });

  it('when a condition names prototype properties, then they read as missing (no object internals)', () => {
    expect(check("vars.constructor == ''")).toBe(true);
    expect(check("instance.vars.__proto__ == ''")).toBe(true);
    expect(check('vars.toString')).toBe(false);
  });

  it.each([
    ['vars.count >', 'ends too early'],
    ['vars.count > 1 1', 'unexpected text'],
    ['process.exit(1)', 'is not a variable'],
    ['require', "unknown word 'require'"],
    ["'open", 'unterminated string'],
    ['$(instance/@id)', 'is not a variable'],
    ['vars.a; drop', "unexpected character ';'"],
    ['(vars.a', "expected ')'"],
    ['', 'empty'],
  ])('when the condition is %p, then it is refused (%s)', (text, message) => {
    expect(() => parseCondition(text)).toThrow(ConditionSyntaxError);
    expect(() => parseCondition(text)).toThrow(message);
  });

  it('when a condition is hostile (huge or deeply nested), then it is refused before evaluation', () => {
    expect(() => parseCondition('('.repeat(100) + '1' + ')'.repeat(100))).toThrow('nests deeper');
    expect(() => parseCondition('!'.repeat(100) + '1')).toThrow('nests deeper');
    expect(() => parseCondition('1 == 1 and '.repeat(500) + '1')).toThrow('longer than');
  });
});
