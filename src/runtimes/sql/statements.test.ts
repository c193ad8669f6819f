import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { looksLikeQuery, splitStatements, writtenTableName } from './statements.js';

describe('splitStatements', () => {
  test('splits on top-level semicolons with start lines, skipping comment-only parts', () => {
    const script = "SELECT 1;\n-- only a comment;\n\nSELECT ';' AS s, \"a;b\" FROM t /* ; */;\n$$ ; $$;";
    assert.deepEqual(splitStatements(script), [
      { text: 'SELECT 1', line: 1 },
      { text: `-- only a comment;\n\nSELECT ';' AS s, "a;b" FROM t /* ; */`, line: 2 },
      { text: '$$ ; $$', line: 5 },
    ]);
  });

  test('handles MySQL backslash escapes, backticks and # comments', () => {
    const script = "SELECT 'it\\'s;' AS `a;b`; # c;\nSELECT 2";
    assert.deepEqual(
      splitStatements(script, { backslashEscapes: true, backtickIdentifiers: true }).map((s) => s.text),
      ["SELECT 'it\\'s;' AS `a;b`", '# c;\nSELECT 2'],
    );
  });
});

describe('statement classification', () => {
  test('recognises queries by their leading keyword', () => {
    assert.equal(looksLikeQuery('-- c\n(SELECT 1)'), true);
    assert.equal(looksLikeQuery('WITH a AS (SELECT 1) SELECT * FROM a'), true);
    assert.equal(looksLikeQuery('WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a'), false);
    assert.equal(looksLikeQuery('INSERT INTO t VALUES (1)'), false);
  });

  test('finds the table a CREATE TABLE or INSERT writes', () => {
    assert.equal(writtenTableName('CREATE TABLE IF NOT EXISTS public."My T" (a int)'), 'public."My T"');
    assert.equal(writtenTableName('create or replace temp table x as select 1'), 'x');
    assert.equal(writtenTableName('INSERT INTO `db`.`t` VALUES (1)'), '`db`.`t`');
    assert.equal(writtenTableName('UPDATE t SET a = 1'), null);
  });
});
