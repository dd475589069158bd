/** The generated READMEs are runbooks: their commands, as the tests run them. */

/**
 * Every command line of the README's ```sh blocks (indented ones too), with the heading it stands under.
 * `language` text: the blocks a reader runs but the runbook test does not (a lab test runs them instead).
 */
export function runbookCommands(readme: string, language: 'sh' | 'text' = 'sh'): { section: string; command: string }[] {
  const out: { section: string; command: string }[] = [];
  let section = '';
  // The language of the fenced block the line is in (any language: its comments are no headings), or undefined.
  let block: string | undefined;
  for (const line of readme.split('\n')) {
    const heading = /^#+\s+(.*)$/.exec(line);
    if (heading && block === undefined) section = heading[1] ?? '';
    const fence = /^\s*```(\S*)\s*$/.exec(line);
    if (fence) block = block === undefined ? fence[1] : undefined;
    else if (block === language && line.trim() && !line.trim().startsWith('#')) out.push({ section, command: line.trim() });
  }
  return out;
}
