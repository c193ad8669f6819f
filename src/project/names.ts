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

/**
 * Longest uuid (pipeline or block) in UTF-8 bytes. A uuid becomes a file or folder name with more around it:
 * `<uuid>.yaml` (5 bytes of extension), the atomic write's temp name `.<file>.<pid>.<12 hex>.tmp` (up to 26
 * more), output folders' `.<uuid>.tmp-<pid>-<8 hex>` (22) and logs' `<uuid>.log` (4). Linux allows 255 bytes
 * per name, so 224 is the hard ceiling; 200 keeps room for a longer pid or suffix.
 */
export const MAX_NAME_BYTES = 200;

/** A name whose uuid does not fit in MAX_NAME_BYTES. A kind of InvalidNameError, so the API answers 400. */
export class NameTooLongError extends InvalidNameError {
  constructor(message: string) {
    super(message);
    this.name = 'NameTooLongError';
  }
}

/**
 * Returns `uuid` when it fits in MAX_NAME_BYTES (UTF-8), else throws NameTooLongError naming `kind` (e.g.
 * "Pipeline", "Block") and the limit. Bytes, not characters: a CJK character takes 3.
 */
export function checkNameBytes(kind: string, uuid: string): string {
  const bytes = Buffer.byteLength(uuid, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    const shown = uuid.length > 40 ? `${uuid.slice(0, 40)}…` : uuid;
    throw new NameTooLongError(
      `${kind} name is too long: its uuid ${JSON.stringify(shown)} is ${bytes} bytes in UTF-8, and names are limited to ` +
        `${MAX_NAME_BYTES} bytes (${MAX_NAME_BYTES} ASCII characters, about ${Math.floor(MAX_NAME_BYTES / 3)} CJK characters) ` +
        'because the uuid becomes a file name.',
    );
  }
  return uuid;
}
