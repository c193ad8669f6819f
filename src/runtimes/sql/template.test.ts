import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TemplateError } from './errors.js';
import { renderTemplate, type TemplateScope } from './template.js';

const scope: TemplateScope = {
  names: new Map<string, unknown>([
    ['df_1', '"df_1"'],
    ['cfg', { table: 'events', nested: { n: 3 } }],
    ['flag', true],
    ['nothing', null],
  ]),
  functions: {
    variables: (name: unknown) => ({ country: 'NL' } as Record<string, string>)[String(name)],
    upper: async (s: unknown) => String(s).toUpperCase(),
  },
  unavailable: new Map([['df_2', 'upstream block x has no stored output']]),
};

async function rejectsTemplate(template: string, message: RegExp): Promise<void> {
  await assert.rejects(renderTemplate(template, scope), (err: unknown) => {
    assert.ok(err instanceof TemplateError);
    assert.equal(err.exception, 'TemplateError');
    assert.match(err.message, message);
    return true;
  });
}

describe('renderTemplate', () => {
  test('substitutes names, calls, attribute and index access', async () => {
    const out = await renderTemplate(
      "SELECT * FROM {{ df_1 }} WHERE c = '{{ variables('country') }}' AND t = '{{ cfg.table }}' AND n = {{ cfg['nested'].n }}",
      scope,
    );
    assert.equal(out, `SELECT * FROM "df_1" WHERE c = 'NL' AND t = 'events' AND n = 3`);
  });

  test('prints values as Python does and awaits async functions', async () => {
    assert.equal(await renderTemplate('{{ flag }} {{ nothing }} {{ upper("x") }} {{ 1.5 }}', scope), 'True None X 1.5');
  });

  test('strips comments and honours whitespace control', async () => {
    assert.equal(await renderTemplate('a {# note #}b   {{- df_1 -}}   c', scope), 'a b"df_1"c');
  });

  test('keeps a closing brace inside a string argument', async () => {
    assert.equal(await renderTemplate("{{ upper('}}') }}", scope), '}}');
  });

  test('rejects unknown functions by name', () => rejectsTemplate('{{ eval("1") }}', /Unknown function 'eval'/));
  test('rejects undefined names', () => rejectsTemplate('{{ missing }}', /'missing' is undefined/));
  test('explains unavailable names', () => rejectsTemplate('{{ df_2 }}', /no stored output/));
  test('rejects filters', () => rejectsTemplate('{{ df_1 | upper }}', /Filters are not supported \('\| upper'\)/));
  test('rejects tags', () => rejectsTemplate('{% if x %}a{% endif %}', /'\{% if %\}'.*not supported/));
  test('rejects operators', () => rejectsTemplate('{{ 1 + 2 }}', /operators are not supported/));
  test('rejects an unclosed expression', () => rejectsTemplate('SELECT {{ df_1', /Unclosed '\{\{'/));
});
