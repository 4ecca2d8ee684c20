import { checkTemplatePaths, compileTemplate, renderTemplate } from './personalisation.template';
import { TemplateError } from './template.error';

const render = (source: string, data: Record<string, unknown>, escape: 'html' | 'none' = 'html') => renderTemplate(compileTemplate(source), data, { escape });

function failure(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected a TemplateError');
}

describe('personalised templates', () => {
  const ann = { recipient: { firstName: 'Ann', lastName: null, location: { city: 'Paris' }, birthDate: '1990-04-05', email: 'a@example.com' } };

  it('when a template has <%= path %>, then the value is written HTML-escaped; <%== %> writes it as is', () => {
    expect(render('Hello <%= recipient.firstName %>, from <%= recipient.location.city %>!', ann)).toBe('Hello Ann, from Paris!');
    const evil = { recipient: { firstName: '<script>alert("x")</script> & \'co\'' } };
    expect(render('<p><%= recipient.firstName %></p>', evil)).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</p>');
    expect(render('<%== recipient.firstName %>', evil)).toBe(evil.recipient.firstName);
    expect(render('<%= recipient.firstName %>', evil, 'none')).toBe(evil.recipient.firstName);
  });

  it('when a field exists but is empty, then it renders as an empty string; || gives a fallback', () => {
    expect(render('[<%= recipient.lastName %>]', ann)).toBe('[]');
    expect(render("Dear <%= recipient.lastName || 'customer' %>", ann)).toBe('Dear customer');
    expect(render("<%= ctx.nickname || recipient.firstName || 'you' %>", { ...ann, ctx: {} })).toBe('Ann');
  });

  it('when a value is missing from the data, then rendering fails with the path and its position', () => {
    const err = failure(() => render('line one\n  <%= ctx.order.total %>', { ctx: { order: {} } }));
    expect(err.kind).toBe('missing-value');
    expect(err.message).toBe("'ctx.order.total' is not in the data of this message (line 2, column 3)");
    expect(failure(() => render('<%= ctx.order %>', { ctx: { order: { id: '1', total: '2' } } })).message).toContain('is a group of values');
  });

  it('when the template is malformed, then compiling it fails with a syntax error naming the place', () => {
    expect(failure(() => compileTemplate('Hi <%= recipient.firstName')).message).toBe("'<%=' is not closed by '%>' (line 1, column 4)");
    expect(failure(() => compileTemplate('<% if (x) { %>')).kind).toBe('syntax');
    expect(failure(() => compileTemplate('<%= recipient. %>')).message).toContain('unexpected end');
    expect(failure(() => compileTemplate('<%= require("fs") %>')).message).toContain("unknown function 'require'");
    expect(failure(() => compileTemplate('<%= a; b %>')).message).toContain("unexpected ';'");
    expect(failure(() => compileTemplate('<%=  %>')).message).toContain('empty expression');
    expect(failure(() => compileTemplate("<%= upper('a', 'b') %>")).message).toContain('upper takes 1 argument');
  });

  it('when functions are used, then they format the value; formatDate of an empty value fails that message', () => {
    expect(render("<%= formatDate(recipient.birthDate, '%2D/%2M/%4Y') %>", ann)).toBe('05/04/1990');
    expect(render('<%= formatDate(ctx.when) %>', { ctx: { when: '2024-01-02T03:04:05Z' } })).toBe('2024-01-02');
    expect(render('<%= upper(recipient.firstName) %>-<%= lower(recipient.location.city) %>', ann)).toBe('ANN-paris');
    expect(render('https://x.test/?e=<%= escapeUrl(recipient.email) %>', ann)).toBe('https://x.test/?e=a%40example.com');
    const err = failure(() => render("<%= formatDate(recipient.birthDate, '%4Y') %>", { recipient: { birthDate: null } }));
    expect(err.kind).toBe('function');
    expect(err.message).toContain("formatDate: 'recipient.birthDate' is empty");
    expect(failure(() => render('<%= formatDate(ctx.x) %>', { ctx: { x: 'soon' } })).message).toContain("is not a date ('soon')");
  });

  it('when event templates use Campaign roots, then rtEvent.ctx.x reads ctx and rtEvent.email the event', () => {
    const data = { ctx: { order: { id: '42', '#text': 'x' } }, event: { email: 'e@example.com' } };
    expect(render('<%= rtEvent.ctx.order.@id %> <%= rtEvent.email %> <%= ctx.order %>', data)).toBe('42 e@example.com x');
  });

  it('when paths are checked against known fields, then a misspelt recipient field or an unknown root is refused', () => {
    const known = { fields: { recipient: new Set(['firstName', 'location.city']) }, freeRoots: ['ctx'] };
    checkTemplatePaths(compileTemplate('<%= recipient.firstName %><%= recipient.location.@city %><%= ctx.anything.at.all %>'), known);
    expect(failure(() => checkTemplatePaths(compileTemplate('<%= recipient.fristName %>'), known)).message).toBe(
      "'recipient.fristName' is not a field of recipient (line 1, column 1)",
    );
    expect(failure(() => checkTemplatePaths(compileTemplate('<%= upper(process.env) %>'), known)).message).toContain(
      "'process' is not something a template can use here",
    );
  });
});
