import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanName, InvalidNameError } from './names.js';

// Expected values were produced by Mage's clean_name (mage_ai/shared/utils.py) under CPython 3.11.
const CASES: [string, string][] = [
  ['arwen-starlight', 'arwen_starlight'],
  ['9lives', 'letter_9lives'],
  ['My Pipe', 'my_pipe'],
  ['ABC-123', 'abc_123'],
  ['Café Crème', 'café_crème'],
  ['cafe\u0301', 'cafe_'],
  ['日本語 パイプ', '日本語_パイプ'],
  ['٣abc', 'letter_٣abc'],
  ['Ⅻ roman', 'ⅻ_roman'],
  ['x²', 'x²'],
  ['İstanbul', 'i̇stanbul'],
  ['ΣΊΣΥΦΟΣ', 'σίσυφος'],
  ['a"b$c\td', 'abcd'],
  ['   ', '___'],
  ['hello.world/../x', 'hello_world____x'],
  ['😀 smile', '__smile'],
  ['__init__', '__init__'],
];

test('cleanName matches Mage clean_name', () => {
  for (const [input, expected] of CASES) assert.equal(cleanName(input), expected, JSON.stringify(input));
});

test('cleanName refuses names that clean to nothing', () => {
  for (const input of ['', '"$', '\n\t\r', '\uFEFF']) {
    assert.throws(() => cleanName(input), InvalidNameError);
  }
});
