/** Mage's `clean_name` (mage_ai/shared/utils.py), which turns a display name into a pipeline or block uuid. */

/** A name that cleans to nothing (empty, or only characters Mage strips). */
export class InvalidNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidNameError';
  }
}

/** Characters Mage deletes before replacing the rest. */
const STRIPPED = /[\uFEFF"$\n\r\t]/g;
/** Python's `\W` on str: anything that is not a letter, a number (Nd, Nl, No) or `_`. */
const NON_WORD = /[^\p{L}\p{N}_]/gu;
/** Python's `\d` on str: a Unicode decimal digit. */
const LEADING_DIGIT = /^\p{Nd}/u;

/**
 * Lower-cases, replaces every non-word character with `_`, and prefixes a leading digit with `letter_`,
 * exactly as Mage does (`"arwen-starlight"` -> `arwen_starlight`, `"9lives"` -> `letter_9lives`).
 * Throws InvalidNameError when nothing is left.
 */
export function cleanName(name: string): string {
  if (typeof name !== 'string') {
    throw new InvalidNameError(`Name must be a string, got ${name === null ? 'null' : typeof name}.`);
  }
  let cleaned = name.replace(STRIPPED, '').replace(NON_WORD, '_');
  if (LEADING_DIGIT.test(cleaned)) cleaned = `letter_${cleaned}`;
  cleaned = cleaned.toLowerCase();
  if (cleaned === '') {
    throw new InvalidNameError(`Name ${JSON.stringify(name)} is empty once cleaned; use letters, digits or "_".`);
  }
  return cleaned;
}
