import { defineCommand, type Command } from "../command.ts";
import { UsageError } from "../format.ts";

const GLOBAL_FLAGS = ["--home", "--nats-url", "--help"];

/**
 * What may follow each line of command words: the next words after a part of a path, the flags after a
 * whole one. Longest lines first, so a shell's first matching case is the right one.
 */
export const completionTable = (commands: ReadonlyArray<Command>): Array<{ line: string; whole: boolean; words: string[] }> => {
  const next = new Map<string, Set<string>>();
  for (const c of commands) {
    for (let i = 0; i < c.path.length; i++) {
      const line = c.path.slice(0, i).join(" ");
      if (!next.has(line)) next.set(line, new Set());
      next.get(line)!.add(c.path[i]!);
    }
  }
  const rows: Array<{ line: string; whole: boolean; words: string[] }> = [];
  for (const c of commands) {
    const flags = Object.entries(c.options).map(([name]) => `--${name}`);
    rows.push({ line: c.path.join(" "), whole: true, words: [...(next.get(c.path.join(" ")) ?? []), ...flags, ...GLOBAL_FLAGS] });
  }
  for (const [line, words] of next) if (!rows.some((r) => r.line === line)) rows.push({ line, whole: false, words: [...words, ...(line === "" ? GLOBAL_FLAGS : [])] });
  return rows.sort((a, b) => b.line.length - a.line.length);
};

// A case pattern for the words typed so far: exactly the line, or (for a whole command) the line and more.
const patterns = (r: { line: string; whole: boolean }): string => (r.whole ? `"${r.line}"|"${r.line} "*` : `"${r.line}"`);

const caseBody = (rows: ReturnType<typeof completionTable>): string =>
  rows.map((r) => `    ${patterns(r)}) cands="${r.words.join(" ")}" ;;`).join("\n");

export const bashCompletion = (commands: ReadonlyArray<Command>): string => `# sophont completion for bash: source <(sophont completion bash), or save it under ~/.local/share/bash-completion/completions/sophont
_sophont_candidates() {
  local line="$*" cands=""
  case "$line" in
${caseBody(completionTable(commands))}
  esac
  printf '%s\\n' "$cands"
}
_sophont() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" typed=() i
  for ((i = 1; i < COMP_CWORD; i++)); do [[ "\${COMP_WORDS[i]}" == -* ]] || typed+=("\${COMP_WORDS[i]}"); done
  COMPREPLY=($(compgen -W "$(_sophont_candidates "\${typed[@]}")" -- "$cur"))
}
complete -o default -F _sophont sophont
`;

export const zshCompletion = (commands: ReadonlyArray<Command>): string => `#compdef sophont
# sophont completion for zsh: source <(sophont completion zsh), or save it as _sophont in a folder of $fpath
_sophont_candidates() {
  local line="$*" cands=""
  case "$line" in
${caseBody(completionTable(commands))}
  esac
  print -r -- "$cands"
}
_sophont() {
  local -a typed cands
  local w
  for w in "\${(@)words[2,CURRENT-1]}"; do [[ "$w" == -* ]] || typed+=("$w"); done
  cands=(\${=$(_sophont_candidates "\${typed[@]}")})
  compadd -a cands
}
if (( ! $+functions[compdef] )); then autoload -Uz compinit && compinit -u; fi
compdef _sophont sophont
`;

export const completion = defineCommand({
  path: ["completion"],
  summary: "print a shell completion script for bash or zsh (command words and each command's flags)",
  usage: "sophont completion bash|zsh",
  details: ["bash: source <(sophont completion bash)   (or add that line to ~/.bashrc)", "zsh:  source <(sophont completion zsh)    (or add that line to ~/.zshrc)"].join("\n"),
  options: {},
  run: async (ctx, _v, args) => {
    const shell = args[0];
    if (args.length !== 1 || (shell !== "bash" && shell !== "zsh")) throw new UsageError("name one shell: bash or zsh");
    const { commands } = await import("./index.ts");
    ctx.out(shell === "bash" ? bashCompletion(commands) : zshCompletion(commands));
  },
});
