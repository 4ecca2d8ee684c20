import { compileBuiltinSchemas } from '../test/builtin-schemas.fixture';
import { parseWorkflowDefinition } from './workflow.definition';
import type { DefinitionResult } from './workflow.model';

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
    const problems = problemsOf(
      parseWorkflowDefinition(
        '<activities><start name="s"><transition target="q"/></start><fileTransfer name="q"><transition target="e"/></fileTransfer><end name="e"/></activities>',
      ),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'WKF-560011', activity: 'q' });
    expect(problems[0]!.message).toContain('unknown activity type <fileTransfer>');
  });

  it('when a transition leads nowhere, then WKF-560012 names the activity and the missing target', () => {
    const problems = problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition target="nowhere"/></start><end name="e"/></activities>'));
    expect(problems[0]).toMatchObject({ code: 'WKF-560012', activity: 's' });
    expect(problems[0]!.message).toContain("'nowhere'");
    expect(problemsOf(parseWorkflowDefinition('<activities><start name="s"><transition/></start><end name="e"/></activities>'))[0]!.code).toBe('WKF-560012');
  });

  it('when no end can be reached from the start, then WKF-560013', () => {
    const problems = problemsOf(
      parseWorkflowDefinition('<activities><start name="s"><transition target="w"/></start><external name="w"/><end name="e"/></activities>'),
    );
    expect(problems).toEqual([{ code: 'WKF-560013', message: 'no end activity can be reached from the start activities' }]);
    expect(
      problemsOf(parseWorkflowDefinition('<activities><external name="w"><transition target="e"/></external><end name="e"/></activities>'))[0],
    ).toMatchObject({
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
    expect(text).toContain('wait activity \'w\' needs delay="seconds"');
    expect(text).toContain("test activity 't': invalid condition");
    expect(text).toContain('needs a transition named "true"');
    expect(text).toContain("has a transition named 'maybe'");
    expect(text).toContain("end activity 'e' cannot have outgoing transitions");
    expect(text).toContain("two activities are named 'e'");
    expect(text).toContain('start activities have no incoming transitions');
  });

  it('when the memo is empty, not XML or not <activities>, then WKF-560010', () => {
    expect(problemsOf(parseWorkflowDefinition(''))[0]!.code).toBe('WKF-560010');
    expect(problemsOf(parseWorkflowDefinition('<activities><start'))[0]!.code).toBe('WKF-560010');
    expect(problemsOf(parseWorkflowDefinition('<workflow/>'))[0]!.message).toContain('expected <activities>');
    expect(problemsOf(parseWorkflowDefinition('<activities/>'))[0]!.message).toBe('the workflow has no activities');
  });

  it('when an and-join has no way in, then it is refused', () => {
    const problems = problemsOf(
      parseWorkflowDefinition(
        '<activities><start name="s"><transition target="e"/></start><andjoin name="j"><transition target="e"/></andjoin><end name="e"/></activities>',
      ),
    );
    expect(problems[0]).toMatchObject({ code: 'WKF-560014', message: "and-join 'j' has no incoming transition" });
  });

  it('when the definition uses a DOCTYPE (entity expansion), then it is refused as malformed', () => {
    const problems = problemsOf(parseWorkflowDefinition('<!DOCTYPE a [<!ENTITY x "y">]><activities><start name="s"/></activities>'));
    expect(problems[0]!.code).toBe('WKF-560010');
  });

  it('when js, query and updateData activities are defined, then their settings are read (Campaign-style <transitions> wrappers included)', () => {
    const result = parseWorkflowDefinition(
      '<activities><start name="s"><transition target="q"/></start>' +
        '<query name="q" schema="nms:recipient"><where><condition expr="@email LIKE \'%@example.com\'"/></where><transitions><result name="result" target="js"/></transitions></query>' +
        '<js name="js"><script><![CDATA[\nif (vars.recCount > 0 && 1 < 2) logInfo("many");\n]]></script><transitions><done name="done" target="u"/><error name="error" target="e"/></transitions></js>' +
        '<updateData name="u" schema="nms:recipientStg" mode="ingestExt" operation="update"><field xpath="@blackList" value="1"/><transition target="load"/></updateData>' +
        '<ingest name="load"><data><recipientStg xtkschema="nms:recipientStg" email="$(vars/@email)"/></data><transition target="e"/></ingest>' +
        '<end name="e"/></activities>',
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const byName = result.definition.byName;
    expect(byName.get('q')).toMatchObject({
      type: 'query',
      query: { schema: 'nms:recipient', where: '<where><condition expr="@email LIKE &apos;%@example.com&apos;"/></where>' },
    });
    expect(byName.get('q')!.transitions).toEqual([{ name: 'result', target: 'js', key: 'q#0' }]);
    expect(byName.get('js')).toMatchObject({ type: 'js', script: '\nif (vars.recCount > 0 && 1 < 2) logInfo("many");\n' });
    expect(byName.get('js')!.transitions.map((t) => t.name)).toEqual(['done', 'error']);
    expect(byName.get('u')).toMatchObject({
      type: 'update',
      update: { mode: 'ingestExt', operation: 'update', schema: 'nms:recipientStg', fields: [{ xpath: '@blackList', value: '1' }], records: [] },
    });
    expect(byName.get('load')!.update).toMatchObject({
      mode: 'ingest',
      operation: 'insert',
      records: ['<recipientStg xtkschema="nms:recipientStg" email="$(vars/@email)"/>'],
    });
  });

  it('when work activities lack what they need, then WKF-560014 says what', () => {
    const problems = problemsOf(
      parseWorkflowDefinition(
        '<activities><start name="s"><transition target="js"/></start><js name="js"><transition target="q"/></js><query name="q"><transition target="u"/></query>' +
          '<updateData name="u" mode="upsert"><transition target="e"/></updateData><end name="e"/></activities>',
      ),
    );
    expect(problems.map((p) => p.code)).toEqual(['WKF-560014', 'WKF-560014', 'WKF-560014', 'WKF-560014', 'WKF-560014']);
    expect(problems.map((p) => p.message).join(' | ')).toMatch(
      /js activity 'js' needs a <script>.*query activity 'q' needs schema=.*mode="upsert".*needs schema=.*sets no field/,
    );
  });
  it("when delivery activities are defined, then the template and the target source are read: the inbound population by default, a <where>, or the template's own", () => {
    const schemas = compileBuiltinSchemas();
    const result = parseWorkflowDefinition(
      '<activities><start name="s"><transition target="q"/></start>' +
        '<query name="q" schema="nms:recipient"><where><condition expr="@email LIKE \'%$(vars/@domain)\'"/></where><transition target="d1"/></query>' +
        '<delivery name="d1" template="NEWSLETTER" deliveryLabel="June $(vars/@recCount)"><transitions><done name="done" target="d2"/></transitions></delivery>' +
        '<delivery name="d2"><scenario internalName="REMINDER"/><where><condition expr="[location/@city] = $(instance/vars/@city)"/></where><transition target="d3"/></delivery>' +
        '<delivery name="d3" template="ALL" target="template"><transition target="e"/></delivery>' +
        '<end name="e"/></activities>',
      { schemas },
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const byName = result.definition.byName;
    expect(byName.get('d1')).toMatchObject({
      type: 'delivery',
      delivery: { template: 'NEWSLETTER', target: 'inbound', where: '', label: 'June $(vars/@recCount)' },
    });
    expect(byName.get('d2')!.delivery).toMatchObject({
      template: 'REMINDER',
      target: 'where',
      where: '<where><condition expr="[location/@city] = $(instance/vars/@city)"/></where>',
    });
    expect(byName.get('d3')!.delivery).toMatchObject({ template: 'ALL', target: 'template' });
    expect(byName.get('q')!.query!.where).toContain('$(vars/@domain)');
  });

  it('when a delivery activity has no template, an unknown target or a where that does not compile, or a query condition with variables does not compile, then WKF-560014 says what', () => {
    const schemas = compileBuiltinSchemas();
    const problems = problemsOf(
      parseWorkflowDefinition(
        '<activities><start name="s"><transition target="d1"/></start><delivery name="d1"><transition target="d2"/></delivery>' +
          '<delivery name="d2" template="T" target="everyone"><transition target="d3"/></delivery>' +
          '<delivery name="d3" template="T" target="template"><where><condition expr="@email = \'x\'"/></where><transition target="d4"/></delivery>' +
          '<delivery name="d4" template="T"><where><condition expr="@shoeSize = $(vars/@size)"/></where><transition target="q"/></delivery>' +
          '<query name="q" schema="nms:recipient"><where><condition expr="@email = $(vars/@x) AND @nothing = 1"/></where><transition target="e"/></query>' +
          '<end name="e"/></activities>',
        { schemas },
      ),
    );
    expect(problems.map((p) => [p.code, p.activity])).toEqual([
      ['WKF-560014', 'd1'],
      ['WKF-560014', 'd2'],
      ['WKF-560014', 'd3'],
      ['WKF-560014', 'd4'],
      ['WKF-560014', 'q'],
    ]);
    expect(problems[0]!.message).toContain("delivery activity 'd1' needs template=");
    expect(problems[1]!.message).toContain('target="everyone" is not one of inbound, where, template');
    expect(problems[2]!.message).toContain('has a <where> but target="template"');
    expect(problems[3]!.message).toContain('shoeSize');
    expect(problems[4]!.message).toContain('nothing');
  });
});
