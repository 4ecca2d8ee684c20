import { parseWorkflowDefinition, type DefinitionResult } from './workflow.definition';

const WKF1 =
  '<activities><start name="start"><transition target="signal"/></start><external name="signal" label="Signal"><transition target="end"/></external><end name="end"/></activities>';

function problemsOf(result: DefinitionResult) {
  if (result.ok) throw new Error('expected the definition to be refused');
  return result.problems;
}

describe('workflow definition', () => {
  it('when the dev seed workflow WKF1 is read, then it has start → external signal → end', () => {
    const result = parseWorkflowDefinition(WKF1);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.definition.activities.map((a) => [a.name, a.type])).toEqual([
      ['start', 'start'],
      ['signal', 'external'],
      ['end', 'end'],
    ]);
    expect(result.definition.byName.get('signal')!.transitions).toEqual([{ name: '', target: 'end', key: 'signal#0' }]);
  });

  it('when transitions sit in a <transitions> wrapper and types use aliases, then they are read the same', () => {
    const result = parseWorkflowDefinition(
      '<activities><start name="s"><transitions><transition name="ok" target="x"/></transitions></start><externalSignal name="x"><transition target="j"/></externalSignal><andJoin name="j"><transition target="e"/></andJoin><end name="e"/></activities>',
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.definition.byName.get('x')!.type).toBe('external');
    expect(result.definition.joinInputs.get('j')).toEqual(['x#0']);
  });

  it('when an activity type is unknown, then WKF-560011 names it (and transitions to it are not reported again)', () => {
    const problems = problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition target="q"/></start><query name="q"><transition target="e"/></query><end name="e"/></activities>'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'WKF-560011', activity: 'q' });
    expect(problems[0]!.message).toContain('unknown activity type <query>');
  });

  it('when a transition leads nowhere, then WKF-560012 names the activity and the missing target', () => {
    const problems = problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition target="nowhere"/></start><end name="e"/></activities>'));
    expect(problems[0]).toMatchObject({ code: 'WKF-560012', activity: 's' });
    expect(problems[0]!.message).toContain("'nowhere'");
    expect(problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition/></start><end name="e"/></activities>'))[0]!.code).toBe('WKF-560012');
  });

  it('when no end can be reached from the start, then WKF-560013', () => {
    const problems = problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition target="w"/></start><external name="w"/><end name="e"/></activities>'));
    expect(problems).toEqual([{ code: 'WKF-560013', message: 'no end activity can be reached from the start activities' }]);
    expect(problemsOf(parseWorkflowDefinition('<activities><external name="w"><transition target="e"/></external><end name="e"/></activities>'))[0]).toMatchObject({
      code: 'WKF-560013',
      message: 'the workflow has no start activity',
    });
  });

  it('when activity settings are wrong, then WKF-560014 lists every problem', () => {
    const problems = problemsOf(
      parseWorkflowDefinition(
        '<activities><start name="s"><transition target="w"/></start><wait name="w" delay="soon"><transition target="t"/></wait>' +
          '<test name="t" condition="vars.x >"><transition name="maybe" target="e"/></test><end name="e"><transition target="s"/></end><end name="e"/></activities>',
      ),
    );
    expect(problems.map((p) => p.code)).toEqual(Array(problems.length).fill('WKF-560014'));
    const text = problems.map((p) => p.message).join('\n');
    expect(text).toContain("wait activity 'w' needs delay=\"seconds\"");
    expect(text).toContain("test activity 't': invalid condition");
    expect(text).toContain('needs a transition named "true"');
    expect(text).toContain("has a transition named 'maybe'");
    expect(text).toContain("end activity 'e' cannot have outgoing transitions");
    expect(text).toContain("two activities are named 'e'");
    expect(text).toContain("start activities have no incoming transitions");
  });

  it('when the memo is empty, not XML or not <activities>, then WKF-560010', () => {
    expect(problemsOf(parseWorkflowDefinition(''))[0]!.code).toBe('WKF-560010');
    expect(problemsOf(parseWorkflowDefinition('<activities><start'))[0]!.code).toBe('WKF-560010');
    expect(problemsOf(parseWorkflowDefinition('<workflow/>'))[0]!.message).toContain('expected <activities>');
    expect(problemsOf(parseWorkflowDefinition('<activities/>'))[0]!.message).toBe('the workflow has no activities');
  });

  it('when an and-join has no way in, then it is refused', () => {
    const problems = problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition target="e"/></start><andjoin name="j"><transition target="e"/></andjoin><end name="e"/></activities>'));
    expect(problems[0]).toMatchObject({ code: 'WKF-560014', message: "and-join 'j' has no incoming transition" });
  });

  it('when the definition uses a DOCTYPE (entity expansion), then it is refused as malformed', () => {
    const problems = problemsOf(parseWorkflowDefinition('<!DOCTYPE a [<!ENTITY x "y">]><activities><start name="s"/></activities>'));
    expect(problems[0]!.code).toBe('WKF-560010');
  });
});
