/** The generated READMEs are runbooks: their commands, as the tests run them. */

/** Every command line of the README's ```sh blocks (indented ones too), with the heading it stands under. */
export function runbookCommands(readme: string): { section: string; command: string }[] {
  const out: { section: string; command: string }[] = [];
  let section = '';
  let inBlock = false;
  for (const line of readme.split('\n')) {
    const heading = /^#+\s+(.*)$/.exec(line);
    if (heading && !inBlock) section = heading[1] ?? '';
    if (/^\s*```sh\s*$/.test(line)) inBlock = true;
    else if (/^\s*```\s*$/.test(line)) inBlock = false;
    else if (inBlock && line.trim() && !line.trim().startsWith('#')) out.push({ section, command: line.trim() });
  }
  return out;
}
