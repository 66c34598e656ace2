#!/usr/bin/env python3
"""Runs this repository's composite GitHub Action (action.yml) locally, the way a runner does.

Usage: run_action.py ACTION_YML WORKDIR [NAME=VALUE ...]   (inputs; the rest take their defaults)

The `run` steps execute with bash in WORKDIR (joined with `working-directory`), with the step's
`env` after expression substitution and the runner's files: GITHUB_OUTPUT (read back into
`steps.<id>.outputs`), GITHUB_PATH (prepended to PATH for later steps) and GITHUB_STEP_SUMMARY
(as given in the environment). A `uses` step is not run: its `with` values are resolved and
reported. Supported expressions: `inputs.<name>`, `github.action_path`, `runner.temp`,
`steps.<id>.outputs.<name>`; `if` conditions are `&&` of `always()`, `success()`,
`X == 'v'` and `X != 'v'`. Anything else is an error, so the action cannot drift into syntax this
runner would silently misread.

Prints one JSON object: {"steps": [...], "outputs": {...}, "failed": bool}.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Context:
    def __init__(self, action_path, inputs, temp):
        self.action_path = action_path
        self.inputs = inputs
        self.temp = temp
        self.steps = {}
        self.failed = False

    def value(self, name):
        parts = name.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            if parts[1] not in self.inputs:
                raise SystemExit(f"unknown input {parts[1]!r}")
            return self.inputs[parts[1]]
        if name == "github.action_path":
            return self.action_path
        if name == "runner.temp":
            return self.temp
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.steps.get(parts[1], {}).get(parts[3], "")
        raise SystemExit(f"unsupported expression {name!r}")

    def substitute(self, text):
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), str(text))

    def condition(self, text):
        text = EXPRESSION.sub(lambda match: match.group(1), str(text)).strip()
        result = True
        explicit_status = False
        for term in (part.strip() for part in text.split("&&")):
            if term == "always()":
                explicit_status = True
                continue
            if term == "success()":
                explicit_status = True
                result = result and not self.failed
                continue
            match = re.fullmatch(r"([\w.-]+)\s*(==|!=)\s*'([^']*)'", term)
            if not match:
                raise SystemExit(f"unsupported condition {term!r}")
            left, operator, right = match.groups()
            equal = self.value(left) == right
            result = result and (equal if operator == "==" else not equal)
        if not explicit_status:
            result = result and not self.failed
        return result


def read_outputs(path):
    outputs = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            line = line.rstrip("\n")
            if "=" in line:
                name, value = line.split("=", 1)
                outputs[name] = value
    return outputs


def main():
    action_file, workdir, *pairs = sys.argv[1:]
    with open(action_file, encoding="utf-8") as file:
        action = yaml.safe_load(file)
    if action["runs"]["using"] != "composite":
        raise SystemExit("not a composite action")
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    for pair in pairs:
        name, value = pair.split("=", 1)
        if name not in inputs:
            raise SystemExit(f"the action has no input {name!r}")
        inputs[name] = value
    temp = tempfile.mkdtemp(prefix="runner-temp-")
    context = Context(os.path.dirname(os.path.abspath(action_file)), inputs, temp)
    path_entries = []
    report = []
    for number, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{number}")
        if "if" in step and not context.condition(step["if"]):
            report.append({"id": step_id, "skipped": True})
            continue
        if "uses" in step:
            with_values = {name: context.substitute(value) for name, value in step.get("with", {}).items()}
            report.append({"id": step_id, "uses": step["uses"], "with": with_values})
            continue
        if step.get("shell") != "bash":
            raise SystemExit(f"step {step_id}: only shell: bash is supported")
        env = dict(os.environ)
        env.update({name: context.substitute(value) for name, value in step.get("env", {}).items()})
        output_file = os.path.join(temp, f"output-{number}")
        path_file = os.path.join(temp, f"path-{number}")
        open(output_file, "w").close()
        open(path_file, "w").close()
        env["GITHUB_OUTPUT"] = output_file
        env["GITHUB_PATH"] = path_file
        env["PATH"] = os.pathsep.join(path_entries + [env.get("PATH", "")])
        cwd = os.path.join(workdir, context.substitute(step.get("working-directory", ".")))
        script = context.substitute(step["run"])
        # A step's own output is the job log (stderr here): stdout carries only the report.
        completed = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, stdout=sys.stderr)
        context.steps[step_id] = read_outputs(output_file)
        with open(path_file, encoding="utf-8") as file:
            path_entries = [line.strip() for line in file if line.strip()] + path_entries
        if completed.returncode != 0:
            context.failed = True
        report.append({"id": step_id, "exit": completed.returncode, "outputs": context.steps[step_id]})
    outputs = {name: context.substitute(spec["value"]) for name, spec in action.get("outputs", {}).items()}
    print(json.dumps({"steps": report, "outputs": outputs, "failed": context.failed}))


if __name__ == "__main__":
    main()
