#!/usr/bin/env bash
# Runs a relgate gate in CI: the one script behind this repository's GitHub Action (action.yml)
# and usable from any other CI. Configured by environment variables, all optional:
#
#   RELGATE_GATE_FILE        the gate file (packets.toml)
#   RELGATE_OUT_DIR          the out directory (target/gate)
#   RELGATE_COMMAND          auto | xtask | cargo-gate (auto: `cargo xtask gate` when the
#                            project's .cargo/config.toml defines the xtask alias, else cargo gate)
#   RELGATE_ARGS             more arguments for the run, split on spaces
#   RELGATE_DENY_CONDITIONS  true: exit 1 on GO_WITH_CONDITIONS too
#   RELGATE_SOURCE           a relgate checkout to install cargo-gate from (when it is missing)
#   RELGATE_INSTALL          the command that installs cargo-gate otherwise
#                            (cargo install --locked cargo-gate)
#   RELGATE_INSTALL_ROOT     where an installed cargo-gate goes (cargo's default root)
#
# It exits with the gate's own code (0 GO / GO_WITH_CONDITIONS, 1 NO_GO, 2 bad gate file or
# arguments). Under GitHub Actions it also sets the step outputs verdict, exit-code, out and
# sarif; the gate itself writes the job summary, and this script adds a line when the run
# reached no verdict.
set -uo pipefail

gate_file=${RELGATE_GATE_FILE:-packets.toml}
out_dir=${RELGATE_OUT_DIR:-target/gate}
command=${RELGATE_COMMAND:-auto}

note() { printf 'relgate ci: %s\n' "$*" >&2; }
output() { [ -n "${GITHUB_OUTPUT:-}" ] && printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; return 0; }
summary() { [ -n "${GITHUB_STEP_SUMMARY:-}" ] && printf '%s\n' "$*" >>"$GITHUB_STEP_SUMMARY"; return 0; }

if [ "$command" = auto ]; then
  if [ -f .cargo/config.toml ] && grep -Eq '^[[:space:]]*xtask[[:space:]]*=' .cargo/config.toml; then
    command=xtask
  else
    command=cargo-gate
  fi
fi

case "$command" in
  xtask) run=(cargo xtask gate) ;;
  cargo-gate)
    if ! cargo gate --help >/dev/null 2>&1; then
      root_args=()
      if [ -n "${RELGATE_INSTALL_ROOT:-}" ]; then
        root_args=(--root "$RELGATE_INSTALL_ROOT")
        export PATH="$RELGATE_INSTALL_ROOT/bin:$PATH"
        [ -n "${GITHUB_PATH:-}" ] && printf '%s\n' "$RELGATE_INSTALL_ROOT/bin" >>"$GITHUB_PATH"
      fi
      if [ -n "${RELGATE_INSTALL:-}" ]; then
        note "installing cargo-gate: $RELGATE_INSTALL"
        # shellcheck disable=SC2086 # the command is words, as a user writes it
        $RELGATE_INSTALL "${root_args[@]}" || { note "installing cargo-gate failed"; exit 2; }
      elif [ -n "${RELGATE_SOURCE:-}" ] && [ -f "$RELGATE_SOURCE/crates/cargo-gate/Cargo.toml" ]; then
        note "installing cargo-gate from $RELGATE_SOURCE"
        cargo install --locked --path "$RELGATE_SOURCE/crates/cargo-gate" "${root_args[@]}" \
          || { note "installing cargo-gate failed"; exit 2; }
      else
        note "installing cargo-gate from crates.io"
        cargo install --locked cargo-gate "${root_args[@]}" \
          || { note "installing cargo-gate failed"; exit 2; }
      fi
    fi
    run=(cargo gate)
    ;;
  *)
    note "RELGATE_COMMAND must be auto, xtask or cargo-gate, not '$command'"
    exit 2
    ;;
esac

args=(--gate "$gate_file" --out "$out_dir")
[ "${RELGATE_DENY_CONDITIONS:-false}" = true ] && args+=(--deny-conditions)
# Split on whitespace, as documented; never glob-expanded or evaluated.
read -r -a extra <<<"${RELGATE_ARGS:-}"
args+=("${extra[@]}")

# The verdict is this run's only if the run wrote the ledger: `-- --list` or `--help` exit 0
# and leave an earlier run's evidence.jsonl in place.
marker=$(mktemp "${TMPDIR:-/tmp}/relgate-ci.XXXXXX")
note "running: ${run[*]} ${args[*]}"
"${run[@]}" "${args[@]}"
code=$?

# Only a run that decided (0 or 1) has a verdict of its own; on 2 the out dir may hold an older one.
verdict=
if [ "$code" -le 1 ] && [ "$out_dir/evidence.jsonl" -nt "$marker" ]; then
  verdict=$(grep '"kind":"verdict"' "$out_dir/evidence.jsonl" | tail -n 1 \
    | grep -o '"decision":"[A-Z_]*"' | head -n 1 | cut -d'"' -f4)
fi
rm -f "$marker"
out_abs=
[ -d "$out_dir" ] && out_abs=$(cd "$out_dir" && pwd)
output verdict "$verdict"
output exit-code "$code"
output out "$out_abs"
if [ -n "$out_abs" ] && [ -f "$out_abs/report.sarif" ]; then
  output sarif "$out_abs/report.sarif"
else
  output sarif ""
fi
if [ -z "$verdict" ]; then
  summary "**relgate: no verdict** — the gate exited $code before deciding (see the job log)."
fi
exit "$code"
