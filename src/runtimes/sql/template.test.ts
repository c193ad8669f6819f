import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BlockRunRequest } from '../types.js';
import { blockTemplateScope } from './block-template.js';
import { TemplateError } from './errors.js';
import { ioConfigScope } from './io-config.js';
import { PyDatetime } from './py-values.js';
import { renderTemplate, type TemplateScope } from './template.js';

const scope: TemplateScope = {
  names: new Map<string, unknown>([
    ['df_1', '"df_1"'],
    ['cfg', { table: 'events', nested: { n: 3 } }],
    ['flag', true],
    ['nothing', null],
    ['countries', ['NL', 'BE', 'DE']],
    ['rows', [{ name: 'b', n: 2 }, { name: 'a', n: 1 }, { name: 'c', n: 3 }]],
  ]),
  functions: {
    variables: (name: unknown) => ({ country: 'NL' } as Record<string, string>)[String(name)] ?? null,
    shout: async (s: unknown) => String(s).toUpperCase(),
    boom: () => {
      throw new Error('helper exploded');
    },
  },
  unavailable: new Map([['df_2', 'upstream block x has no stored output']]),
  references: new Map<string, string | { unavailable: string }>([
    ['load_orders', '"load_orders"'],
    ['x', { unavailable: 'upstream block x has no stored output' }],
  ]),
};

const render = (template: string, s: TemplateScope = scope) => renderTemplate(template, s, { origin: "SQL block 'b'" });

async function rejectsTemplate(template: string, message: RegExp, traceback?: string[], s: TemplateScope = scope): Promise<void> {
  await assert.rejects(render(template, s), (err: unknown) => {
    assert.ok(err instanceof TemplateError, String(err));
    assert.equal(err.exception, 'TemplateError');
    assert.match(err.message, /^Template error in SQL block 'b': /);
    assert.match(err.message, message);
    if (traceback) assert.deepEqual(err.traceback, traceback);
    return true;
  });
}

/** A block request with only what the template scope reads. */
function request(kwargs: Record<string, unknown>, getSecret?: BlockRunRequest['getSecret']): BlockRunRequest {
  return {
    projectRoot: '/p', dataDir: '/p/data', pipelineUuid: 'p', blockUuid: 'b', blockType: 'transformer', language: 'sql',
    filePath: '/p/transformers/b.sql', mode: 'run', configuration: {}, upstream: [], kwargs, outputDir: null,
    returnOutputs: false, runTests: false, getSecret,
  };
}

describe('renderTemplate: expressions', () => {
  test('substitutes names, calls, attribute and index access', async () => {
    const out = await render(
      "SELECT * FROM {{ df_1 }} WHERE c = '{{ variables('country') }}' AND t = '{{ cfg.table }}' AND n = {{ cfg['nested'].n }}",
    );
    assert.equal(out, `SELECT * FROM "df_1" WHERE c = 'NL' AND t = 'events' AND n = 3`);
  });

  test('prints values as Python does and awaits async functions', async () => {
    assert.equal(await render('{{ flag }} {{ nothing }} {{ shout("x") }} {{ 1.5 }} {{ True }} {{ None }}'), 'True None X 1.5 True None');
    assert.equal(await render('{{ countries }} {{ cfg }}'), "['NL', 'BE', 'DE'] {'table': 'events', 'nested': {'n': 3}}");
    assert.equal(await render("{{ 'a' ~ nothing ~ flag ~ 1 }}"), 'aNoneTrue1');
  });

  test('async results can feed other calls', async () => {
    assert.equal(await render("{{ shout(shout('a') ~ 'b') }}"), 'AB');
  });

  test('strips comments, honours whitespace control and drops one trailing newline, as Jinja', async () => {
    assert.equal(await render('a {# note #}b   {{- df_1 -}}   c'), 'a b"df_1"c');
    assert.equal(await render('SELECT 1;\n'), 'SELECT 1;');
    assert.equal(await render('{% raw %}{{ not rendered }}{% endraw %}'), '{{ not rendered }}');
  });

  test('keeps a closing brace inside a string argument', async () => {
    assert.equal(await render("{{ shout('}}') }}"), '}}');
  });

  test('operators, Python methods, slices and literals', async () => {
    assert.equal(await render('{{ 1 + 2 }} {{ 7 // 2 }} {{ 2 ** 3 }} {{ 7 % 3 }} {{ "NL" in countries }} {{ not flag }}'), '3 3 8 1 True False');
    assert.equal(await render("{{ 'a,b'.split(',') }} {{ ', '.join(countries) }} {{ ' x '.strip() }} {{ 'x'.upper() }}"), "['a', 'b'] NL, BE, DE x X");
    assert.equal(await render('{{ countries[-1] }} {{ countries[1:] }} {{ cfg.get("missing", "dflt") }} {{ cfg.keys() | list }}'), "DE ['BE', 'DE'] dflt ['table', 'nested']");
  });
});

describe('renderTemplate: statements', () => {
  test('for loops with loop.index, loop.first/last, else and dict iteration', async () => {
    const sql = [
      'SELECT',
      '{% for c in countries %}',
      "  SUM(CASE WHEN country = '{{ c }}' THEN 1 END) AS n_{{ c | lower }}{% if not loop.last %},{% endif %} -- {{ loop.index }}/{{ loop.length }}",
      '{% endfor %}',
      'FROM t',
    ].join('\n');
    assert.equal(
      await render(sql),
      [
        'SELECT',
        '',
        "  SUM(CASE WHEN country = 'NL' THEN 1 END) AS n_nl, -- 1/3",
        '',
        "  SUM(CASE WHEN country = 'BE' THEN 1 END) AS n_be, -- 2/3",
        '',
        "  SUM(CASE WHEN country = 'DE' THEN 1 END) AS n_de -- 3/3",
        '',
        'FROM t',
      ].join('\n'),
    );
    assert.equal(await render('{% for x in [] %}a{% else %}empty{% endfor %}'), 'empty');
    assert.equal(await render('{% for k, v in cfg.items() %}{{ k }}={{ v }};{% endfor %}'), "table=events;nested={'n': 3};");
    assert.equal(await render('{%- for i in range(3) -%}{{ loop.index0 }}{{ "," if not loop.last }}{%- endfor %}'), '0,1,2');
  });

  test('if / elif / else and tests', async () => {
    const t = "{% if variables('country') == 'NL' %}nl{% elif flag %}flag{% else %}other{% endif %}";
    assert.equal(await render(t), 'nl');
    assert.equal(await render('{{ nothing is none }} {{ missing is defined }} {{ cfg is mapping }} {{ 4 is even }} {{ nothing is not none }}'), 'True False True True False');
  });

  test('== and != are Python equality', async () => {
    assert.equal(await render("{{ 1 == '1' }} {{ 1 == 1.0 }} {{ [1, 2] == [1, 2] }} {{ cfg == {'table': 'events', 'nested': {'n': 3} } }} {{ True == 1 }} {{ nothing != None }}"), 'False True True True True False');
    assert.equal(await render("{% macro m() %}x{% endmacro %}{{ m() == 'x' }}"), 'True');
  });

  test('set, block set, and set inside a loop not leaking out (Jinja scoping)', async () => {
    assert.equal(await render("{% set t = 'x_' ~ variables('country') | lower %}{{ t }}"), 'x_nl');
    assert.equal(await render('{% set cols %}a, b{% endset %}SELECT {{ cols }}'), 'SELECT a, b');
    assert.equal(await render("{% set n = 0 %}{% for c in countries %}{% set n = loop.index %}{% endfor %}{{ n }}"), '0');
  });

  test('macros with defaults, keyword arguments and call blocks', async () => {
    const t = [
      "{% macro col(name, alias=none, fn='') %}{{ fn ~ '(' if fn }}{{ name }}{{ ')' if fn }}{% if alias %} AS {{ alias }}{% endif %}{% endmacro %}",
      "SELECT {{ col('a') }}, {{ col('b', alias='bee') }}, {{ col('c', fn='max', alias='m') }}",
    ].join('');
    assert.equal(await render(t), 'SELECT a, b AS bee, max(c) AS m');
    assert.equal(await render('{% macro wrap() %}({{ caller() }}){% endmacro %}{% call wrap() %}inner{% endcall %}'), '(inner)');
  });
});

describe('renderTemplate: filters', () => {
  test('string filters', async () => {
    assert.equal(await render("{{ 'ab' | upper }} {{ 'AB' | lower }} {{ 'ab cd' | title }} {{ 'ab' | capitalize }} {{ '  x ' | trim }} {{ 'a-b' | replace('-', '_') }}"), 'AB ab Ab Cd Ab x a_b');
    assert.equal(await render("{{ nothing | string }} {{ flag | upper }} {{ '%s-%03d' | format('a', 7) }} {{ 'abcdef' | truncate(3, true, '') }}"), 'None TRUE a-007 abc');
  });

  test('join, default, length, first/last and list filters', async () => {
    assert.equal(await render("{{ countries | join(', ') }} {{ [1, none, true] | join('-') }} {{ rows | join(',', attribute='name') }}"), 'NL, BE, DE 1-None-True b,a,c');
    assert.equal(await render("{{ missing | default('d') }} {{ nothing | default('d') }} {{ '' | default('d', true) }} {{ missing | d('e') }}"), 'd None d e');
    assert.equal(await render('{{ countries | length }} {{ countries | count }} {{ countries | first }} {{ countries | last }} {{ countries | sort | join }}'), '3 3 NL DE BEDENL');
    assert.equal(await render("{{ rows | sort(attribute='name') | map(attribute='n') | join(',') }} {{ rows | map(attribute='name') | map('upper') | join }}"), '1,2,3 BAC');
    assert.equal(await render("{{ rows | selectattr('n', 'gt', 1) | map(attribute='name') | join }} {{ rows | rejectattr('n', 'equalto', 1) | list | length }}"), 'bc 2');
    assert.equal(await render("{{ [3, 1, 3, 2] | unique | list }} {{ [3, 1, 2] | min }} {{ rows | max(attribute='n') | attr('name') }} {{ rows | sum(attribute='n') }}"), '[3, 1, 2] 1 c 6');
  });

  test('tojson is Python json.dumps with Jinja escaping', async () => {
    assert.equal(await render("{{ cfg | tojson }} {{ ['<a>', \"it's\"] | tojson }}"), '{"table": "events", "nested": {"n": 3}} ["\\u003ca\\u003e", "it\\u0027s"]');
  });
});

describe('renderTemplate: errors', () => {
  test('an undefined name names the expression and the line', () =>
    rejectsTemplate('SELECT 1\nWHERE x = {{ missing }}', /'missing' is undefined at line 2/, ['line 2: WHERE x = {{ missing }}']));
  test('an undefined attribute', () => rejectsTemplate('{{ cfg.nope }}', /'cfg.nope' is undefined at line 1/));
  test('an unknown function lists the available ones', () => rejectsTemplate('a\n{{ eval("1") }}', /Unknown function 'eval' \(available: .*variables.*\) at line 2/));
  test('a function printed without a call', () => rejectsTemplate('{{ variables }}', /'variables' is a function/));
  test('a failing helper', () => rejectsTemplate('x\n\n{{ boom() }}', /boom\(\) failed: helper exploded at line 3/));
  test('unavailable names and references explain why', async () => {
    await rejectsTemplate('{{ df_2 }}', /'df_2' is not available: upstream block x has no stored output/);
    await rejectsTemplate("{{ 'x' }}", /'x' is not available: upstream block x has no stored output/);
  });
  test('a syntax error names the line', () => rejectsTemplate('SELECT 1\n{% if %}\n{% endif %}', /at line 2/, ['line 2: {% if %}']));
  test('an unknown tag', () => rejectsTemplate('{% endif %}', /unknown block tag: endif at line 1/));
  test('an unclosed expression', () => rejectsTemplate('SELECT 1\nFROM {{ df_1', /Unclosed '\{\{' \(expected '\}\}'\).* at line 2/));
  test('an unclosed comment', () => rejectsTemplate('SELECT 1 {# note', /Unclosed '\{#'/));
  test('include has nothing to load', () => rejectsTemplate("{% include 'other.sql' %}", /template not found: other.sql/));
  test('a Jinja loop filter is refused rather than looping over nothing', () =>
    rejectsTemplate('{% for c in countries if c %}{{ c }}{% endfor %}', /Loop filters .* are not supported/));
  test('JavaScript internals are not reachable', async () => {
    await rejectsTemplate("{{ ''.constructor.constructor('return process')() }}", /Cannot call/);
    await rejectsTemplate('{{ constructor }}', /'constructor' is undefined/);
    await rejectsTemplate('{{ cfg.__proto__ }}', /undefined/);
    await rejectsTemplate("{{ (countries | attr('constructor')) }}", /undefined/);
  });
  test('a mutating method does not leak into the caller or the next render', async () => {
    assert.equal(await render('{{ countries.append("FR") or "" }}{{ countries | length }}'), '4');
    assert.equal(await render('{{ countries | length }}'), '3');
  });
});

describe('blockTemplateScope', () => {
  const tables = new Map([['df_1', '"df_1"'], ['load_orders', '"load_orders"']]);
  const unavailable = new Map([['df_2', 'no output'], ['gone', 'no output']]);

  test('df_N, upstream uuids as names and as string literals become the table references', async () => {
    const s = blockTemplateScope(request({}), { tables, unavailable, env: {} });
    assert.equal(await render("{{ df_1 }} {{ load_orders }} {{ 'load_orders' }} {{- \"load_orders\" }} {{ 'plain' }}", s), '"df_1" "load_orders" "load_orders""load_orders" plain');
    await rejectsTemplate("{{ 'gone' }}", /'gone' is not available: no output/, undefined, s);
    await rejectsTemplate('{{ df_2 }}', /'df_2' is not available: no output/, undefined, s);
  });

  test("variables() is Mage's: a kwarg, None when unset, parse with int/float/str/bool", async () => {
    const s = blockTemplateScope(request({ country: 'NL', limit: '10', ids: [1, 2] }), { tables, unavailable, env: {} });
    assert.equal(await render("{{ variables('country') }} {{ variables('nope') }} {{ variables('limit', 'int') + 1 }} {{ variables('ids') | join(',') }} {{ country }}", s), 'NL None 11 1,2 NL');
    await rejectsTemplate("{{ variables('country', 'lambda x: x') }}", /parse function "lambda x: x" is not supported/, undefined, s);
  });

  test('env_var with and without a default, json_value', async () => {
    const s = blockTemplateScope(request({}), { tables, unavailable, env: { REGION: 'eu' } });
    assert.equal(await render("{{ env_var('REGION') }}|{{ env_var('UNSET') }}|{{ env_var('UNSET', 'dflt') }}", s), 'eu||dflt');
    assert.equal(await render(`{{ json_value('{"a": {"b": 5}}', 'a.b') }} {{ json_value('not json', 'a') }}`, s), '5 not json');
    await rejectsTemplate("{{ aws_secret_var('x') }}", /aws_secret_var\(\) failed: AWS Secrets Manager is not available/, undefined, s);
  });

  test('mage_secret_var resolves secrets asynchronously and records them for redaction', async () => {
    const secrets = new Set<string>();
    const getSecret = async (name: string) => ({ api_key: 's3cr3t', creds: '{"user": "u1"}' } as Record<string, string>)[name];
    const s = blockTemplateScope(request({}, getSecret), { tables, unavailable, env: {}, secrets });
    assert.equal(await render("{{ mage_secret_var('api_key') }} {{ json_value(mage_secret_var('creds'), 'user') }}", s), 's3cr3t u1');
    assert.deepEqual([...secrets].sort(), ['s3cr3t', '{"user": "u1"}']);
    await rejectsTemplate("a\n{{ mage_secret_var('missing') }}", /mage_secret_var\(\) failed: secret 'missing' is not defined at line 2/, undefined, s);
  });

  test('execution dates are Python datetimes: str(), strftime, date(), attributes', async () => {
    const s = blockTemplateScope(
      request({ execution_date: '2024-05-06T07:08:09.5Z', ds: '2024-05-06', hr: '07', interval_end_datetime: '2024-05-07T00:00:00+02:00' }),
      { tables, unavailable, env: {} },
    );
    assert.equal(await render('{{ execution_date }} | {{ interval_end_datetime }} | {{ ds }} {{ hr }}', s), '2024-05-06 07:08:09.500000+00:00 | 2024-05-07 00:00:00+02:00 | 2024-05-06 07');
    assert.equal(
      await render("{{ execution_date.strftime('%Y%m%d %H:%M:%S %a %b %j %z') }} {{ execution_date.date() }} {{ execution_date.year }}-{{ execution_date.month }} {{ execution_date.isoformat() }}", s),
      '20240506 07:08:09 Mon May 127 +0000 2024-05-06 2024-5 2024-05-06T07:08:09.500000+00:00',
    );
    assert.equal(await render("{{ execution_date | string }} {{ [execution_date] }}", s), "2024-05-06 07:08:09.500000+00:00 ['2024-05-06 07:08:09.500000+00:00']");
  });
});

describe('ioConfigScope', () => {
  test('env_var, json_value and mage_secret_var, with secrets recorded', async () => {
    const secrets = new Set<string>();
    const s = ioConfigScope({ projectRoot: '/p', env: { HOST: 'db' }, getSecret: async (n) => (n === 'pw' ? 'hunter2' : undefined), secrets });
    assert.equal(await renderTemplate("{{ env_var('HOST') }}:{{ env_var('PORT', 5432) }}:{{ mage_secret_var('pw') }}", s), 'db:5432:hunter2');
    assert.deepEqual([...secrets], ['hunter2']);
  });
});

describe('PyDatetime', () => {
  test('parses ISO 8601 and prints as Python', () => {
    assert.equal(String(PyDatetime.parse('2024-01-02T03:04:05Z')), '2024-01-02 03:04:05+00:00');
    assert.equal(String(PyDatetime.parse('2024-01-02 03:04:05')), '2024-01-02 03:04:05');
    assert.equal(PyDatetime.parse('2024-01-02'), null);
    assert.equal(PyDatetime.parse('2024-01-02T00:00:00Z')?.timestamp(), Date.UTC(2024, 0, 2) / 1000);
  });
});
