/**
 * The record of the last COMPLETE generation, kept apart from the answers in
 * `.yo-rc.json` (which the user may edit): the answers and history that run
 * used, and a hash of every file it wrote. A re-run plans, refuses and decides
 * which files the user edited against this record, never against a hand edit
 * of `.yo-rc.json`. It is written last, after every file, and only when every
 * file was written: a run stopped or partly refused leaves the previous record,
 * so the next run plans the same change again. Pure: the generator reads and
 * writes the text.
 */
import { createHash } from 'node:crypto';

export const RECORD_FILE = '.grafana-ha-record.json';

export interface GenerationRecord {
  /** Which generator wrote it (templates differ between versions: hashes, not re-renders, tell edits). */
  generator: string;
  /** The answers and history of that run, as `.yo-rc.json` stored them. */
  stored: Record<string, unknown>;
  /** path → sha256 of the contents written (secrets excluded: their files are never rewritten). */
  files: Record<string, string>;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The record's text: its fields, and a checksum over them that tells a hand edit. */
export function recordText({ generator, stored, files }: GenerationRecord): string {
  const fields = { generator, stored, files };
  return `${JSON.stringify({ ...fields, checksum: sha256(JSON.stringify(fields, null, 2)) }, null, 2)}\n`;
}

const RECORD_HELP =
  `${RECORD_FILE} is what the last complete run generated, not an input: change answers in .yo-rc.json or with options. ` +
  `If you moved or copied this stack by hand and know its files match .yo-rc.json, delete ${RECORD_FILE} and re-run: the plan is then computed from .yo-rc.json.`;

/** Parses and checks a record; a problem names the file and the way out. */
export function parseRecord(text: string): { record: GenerationRecord } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `${RECORD_FILE} is not JSON. ${RECORD_HELP}` };
  }
  const { checksum, ...rest } = (parsed ?? {}) as Record<string, unknown>;
  const record = rest as unknown as GenerationRecord;
  const shaped =
    typeof record.generator === 'string' &&
    typeof record.stored === 'object' &&
    record.stored !== null &&
    typeof record.files === 'object' &&
    record.files !== null &&
    Object.values(record.files).every((h) => typeof h === 'string');
  if (
    !shaped ||
    checksum !== sha256(JSON.stringify({ generator: record.generator, stored: record.stored, files: record.files }, null, 2))
  ) {
    return { problem: `${RECORD_FILE} was changed by hand (its checksum does not match). ${RECORD_HELP}` };
  }
  return { record: { generator: record.generator, stored: record.stored, files: record.files } };
}

/**
 * Whether a record describes the stack in this folder: at least one file it lists is there as it
 * recorded it, and compose.yaml, if there, names the recorded project. `composeProject`: the
 * `name:` of compose.yaml on disk, if it has one. Edits to some files are fine; a record copied
 * from another stack, or left behind in a folder whose files were replaced, is not.
 */
export function recordMismatch(
  record: GenerationRecord,
  onDisk: (path: string) => string | undefined,
  composeProject?: string,
): string | undefined {
  const project = record.stored.projectName;
  if (composeProject !== undefined && composeProject !== project) {
    return `${RECORD_FILE} describes the project "${String(project)}", but compose.yaml here is the project "${composeProject}". ${RECORD_HELP}`;
  }
  const asRecorded = Object.entries(record.files).filter(([path, hash]) => {
    const contents = onDisk(path);
    return contents !== undefined && sha256(contents) === hash;
  });
  if (asRecorded.length === 0) {
    return `none of the files ${RECORD_FILE} lists is here as it recorded it: it describes another stack, or these files were replaced. ${RECORD_HELP}`;
  }
  return undefined;
}
