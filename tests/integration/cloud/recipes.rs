//! The CI recipes in `examples/ci/` run the way their CI runs them, against the AWS emulator
//! (over HTTP, through the rules layer): the shell steps are read from the YAML files (never
//! copied here) and executed in order with bash, with the variables and files each platform
//! sets, `provision` on `PATH`, in a copy of `examples/shop`.
//!
//! What the CI would do and this test does in its place:
//! - GitHub Actions: a `run:` step runs as `bash -e {0}` (the default shell when `shell:` is
//!   not given, docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#
//!   jobsjob_idstepsshell) with `GITHUB_ENV`, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` naming
//!   fresh files; after it, `GITHUB_ENV` is read as actions/runner reads it
//!   (src/Runner.Worker/FileCommandManager.cs: `NAME=value`, or `NAME<<DELIMITER` ... `DELIMITER`)
//!   into the later steps' environment, and `::add-mask::` lines on its stdout are unescaped as
//!   the runner does (`ActionCommand`: `%0D`, `%0A`, `%25`) and applied to every later step's
//!   output, as the runner's secret masker would. `uses:` steps do not run: checkout (the
//!   project is already here) and configure-aws-credentials (the emulator's keys are in the
//!   environment instead, as the action would export real ones).
//! - GitLab CI: a job's `before_script` and `script` run in one bash with `set -eo pipefail`
//!   (docs.gitlab.com/runner/shells/), `extends:` merged as GitLab merges it (hashes deeply,
//!   docs.gitlab.com/ci/yaml/#extends), a `dotenv` report read into the jobs that `needs` it.
//! - A step (GitHub) or script line (GitLab) that cannot run here carries the marker
//!   `# provision-recipe-test: skip (why)`: posting to the platform's API, GitLab's OIDC token.
//!   The tests assert exactly which were skipped.
//! - Which jobs run for an event is not evaluated from `if:`/`rules:`; the test names them per
//!   event and checks that each job's condition names that event.
//! - The app's tests (`APP_TESTS`) are replaced by a check of the variables they get: moto's
//!   endpoints are names that accept no connection (NOTES.md, "The AWS emulator").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{CloudProject, emulator};

const MARKER: &str = "# provision-recipe-test: skip";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(relative)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

/// A copy of `examples/shop` (manifest and app files) in an AWS account of its own.
fn shop(prefix: &str) -> CloudProject {
    let manifest = std::fs::read_to_string(repo().join("examples/shop/compose.yaml")).unwrap();
    let p = CloudProject::isolated(prefix, &manifest);
    for entry in std::fs::read_dir(repo().join("examples/shop")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, p.live.project.dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    p
}

/// The environment every CI step gets here: nothing of this machine's but `PATH` and `HOME`,
/// `provision` first on `PATH`, and the emulator's AWS settings.
fn base_env(p: &CloudProject) -> BTreeMap<String, String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_provision"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = &p.live.project.dir;
    let home = dir.parent().unwrap().join("home");
    std::fs::create_dir_all(&home).unwrap();
    [
        ("PATH", path),
        ("HOME", home.display().to_string()),
        ("NO_COLOR", "1".into()),
        ("CI", "true".into()),
        (
            "PROVISION_HOME",
            dir.parent()
                .unwrap()
                .join("provision-home")
                .display()
                .to_string(),
        ),
        ("AWS_ENDPOINT_URL", emulator()),
        ("AWS_ACCESS_KEY_ID", p.account.clone().unwrap()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs `script` with `bash ARGS script` in `dir` with exactly `env`.
fn bash(args: &[&str], script: &str, dir: &Path, env: &BTreeMap<String, String>) -> Ran {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = std::process::Command::new("bash")
        .args(args)
        .arg(file.path())
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[derive(Debug, Clone)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `provision env --format json` of one stage, run directly: what the recipes must hand over.
fn link_vars(p: &CloudProject, stage: &str) -> BTreeMap<String, String> {
    let mut env = base_env(p);
    env.insert("AWS_REGION".into(), "us-east-1".into());
    let ran = bash(
        &[],
        &format!("provision env --cloud --stage '{stage}' --format json"),
        &p.live.project.dir,
        &env,
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    serde_json::from_str(&ran.stdout).unwrap()
}

/// The secret values among them (URLs and passwords), which must never show.
fn secret_values(vars: &BTreeMap<String, String>) -> Vec<String> {
    vars.iter()
        .filter(|(k, _)| k.ends_with("_URL") || k.ends_with("_PASSWORD"))
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .collect()
}

/// What the stage has on AWS, read with boto3: live RDS instances, ElastiCache groups, secrets
/// not scheduled for deletion.
fn stage_on_aws(p: &CloudProject, stage: &str) -> Vec<String> {
    let v = p.boto3(&format!(
        "pre = 'shop-{stage}-'\n\
         found = [d['DBInstanceIdentifier'] for d in rds.describe_db_instances()['DBInstances'] if d['DBInstanceIdentifier'].startswith(pre) and d['DBInstanceStatus'] != 'deleting']\n\
         found += [g['ReplicationGroupId'] for g in ec.describe_replication_groups()['ReplicationGroups'] if g['ReplicationGroupId'].startswith(pre) and g['Status'] != 'deleting']\n\
         found += [s['Name'] for s in sm.list_secrets(IncludePlannedDeletion=False)['SecretList'] if s['Name'].startswith('provision/shop/{stage}/')]\n\
         out(sorted(found))"
    ));
    serde_json::from_value(v).unwrap()
}

/// The stage tag and expiry of the stage's RDS instance.
fn instance_tags(p: &CloudProject, id: &str) -> BTreeMap<String, String> {
    let v = p.boto3(&format!(
        "d = rds.describe_db_instances(DBInstanceIdentifier='{id}')['DBInstances'][0]\nout({{t['Key']: t['Value'] for t in d.get('TagList', [])}})"
    ));
    serde_json::from_value(v).unwrap()
}

/// Moves a stage's expiry into the past on both its databases, as time would.
fn expire(p: &CloudProject, stage: &str) {
    p.boto3(&format!(
        "d = rds.describe_db_instances(DBInstanceIdentifier='shop-{stage}-db')['DBInstances'][0]\n\
         g = ec.describe_replication_groups(ReplicationGroupId='shop-{stage}-redis')['ReplicationGroups'][0]\n\
         tag = [{{'Key': 'provision:expires-at', 'Value': '2020-01-01T00:00:00Z'}}]\n\
         rds.add_tags_to_resource(ResourceName=d['DBInstanceArn'], Tags=tag)\n\
         ec.add_tags_to_resource(ResourceName=g['ARN'], Tags=tag)\n\
         out(0)"
    ));
}

/// What the app's tests are replaced by: they write the variables they were given to a file
/// (to compare with `provision env`) and print two secrets, which the log must show masked.
const APP_TESTS: &str = r#"env | grep -E '^(DB|REDIS)_' | sort > "$APP_TESTS_SAW"; echo "tests see DB_URL=$DB_URL REDIS_PASSWORD=$REDIS_PASSWORD""#;

fn saw(file: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

/// `GITHUB_ENV` as actions/runner's `SetEnvFileCommand` reads it (FileCommandManager.cs).
fn runner_env_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (eq, here) = (line.find('='), line.find("<<"));
        match (eq, here) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.insert(line[..e].to_owned(), line[e + 1..].to_owned());
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                assert!(!name.is_empty() && !delimiter.is_empty(), "{line}");
                let mut value = Vec::new();
                loop {
                    let next = lines
                        .next()
                        .unwrap_or_else(|| panic!("Matching delimiter not found '{delimiter}'"));
                    if next == delimiter {
                        break;
                    }
                    value.push(next);
                }
                out.insert(name.to_owned(), value.join("\n"));
            }
            _ => panic!("Invalid environment variable format '{line}'"),
        }
    }
    out
}

/// The masks a step's stdout registers, unescaped as the runner's `ActionCommand` does.
fn masks_in(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(|m| {
            m.replace("%0D", "\r")
                .replace("%0A", "\n")
                .replace("%25", "%")
        })
        .collect()
}

fn masked(text: &str, masks: &[String]) -> String {
    masks
        .iter()
        .fold(text.to_owned(), |t, m| t.replace(m.as_str(), "***"))
}

/// Replaces `${{ expression }}` from `known`; an expression the table lacks fails the test,
/// so that a recipe needing more of GitHub's contexts is noticed here.
fn expression(value: &str, known: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap() + start;
        let expr = rest[start + 3..end].trim();
        out.push_str(
            known
                .get(expr)
                .unwrap_or_else(|| panic!("the test knows no value for ${{{{ {expr} }}}}")),
        );
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug)]
struct GithubStep {
    name: String,
    ran: Option<Ran>,
    /// The files the step was given, as they were after it.
    env_file: String,
    summary: String,
    masks_before: Vec<String>,
}

struct GithubJob {
    steps: Vec<GithubStep>,
    skipped: Vec<String>,
    /// Every mask registered by the end of the job.
    masks: Vec<String>,
}

/// Runs one job of the workflow for one event, step by step, as the runner would.
fn run_github_job(
    p: &CloudProject,
    workflow: &Value,
    job: &str,
    ci: &BTreeMap<&str, String>,
    known: &BTreeMap<&str, &str>,
) -> GithubJob {
    let dir = &p.live.project.dir;
    let mut env = base_env(p);
    for (k, v) in ci {
        env.insert((*k).to_owned(), v.clone());
    }
    let object = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), expression(&text, known))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    env.extend(object(&workflow["env"]));
    env.extend(object(&workflow["jobs"][job]["env"]));
    // configure-aws-credentials would export a role's keys and AWS_REGION: the emulator's
    // keys are in `base_env`, AWS_REGION in the workflow's `env:`.
    assert!(env.contains_key("AWS_REGION"));
    // The app's tests, replaced (see the module's comment).
    env.insert("APP_TESTS".into(), APP_TESTS.into());
    let work = dir.parent().unwrap().join(format!("runner-{job}"));
    std::fs::create_dir_all(&work).unwrap();
    env.insert("RUNNER_TEMP".into(), work.display().to_string());
    env.insert(
        "APP_TESTS_SAW".into(),
        work.join("app-tests-saw").display().to_string(),
    );
    env.insert("GITHUB_WORKSPACE".into(), dir.display().to_string());
    let mut out = GithubJob {
        steps: Vec::new(),
        skipped: Vec::new(),
        masks: Vec::new(),
    };
    for (i, step) in workflow["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = step["name"]
            .as_str()
            .or_else(|| step["uses"].as_str())
            .unwrap()
            .to_owned();
        let Some(run) = step["run"].as_str().filter(|r| !r.contains(MARKER)) else {
            out.skipped.push(name);
            continue;
        };
        let mut step_env = env.clone();
        step_env.extend(object(&step["env"]));
        let files = ["GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"].map(|f| {
            let path = work.join(format!("{f}-{i}"));
            std::fs::write(&path, "").unwrap();
            step_env.insert(f.to_owned(), path.display().to_string());
            path
        });
        let ran = bash(&["-e"], run, dir, &step_env);
        let masks_before = out.masks.clone();
        out.masks.extend(masks_in(&ran.stdout));
        let env_file = std::fs::read_to_string(&files[0]).unwrap();
        // The runner sets what the step wrote for every later step of the job.
        env.extend(runner_env_file(&env_file));
        assert_eq!(
            ran.code,
            Some(0),
            "step `{name}` of job `{job}` failed:\n{}\n{}",
            masked(&ran.stdout, &out.masks),
            masked(&ran.stderr, &out.masks)
        );
        out.steps.push(GithubStep {
            name,
            ran: Some(ran),
            env_file,
            summary: std::fs::read_to_string(&files[2]).unwrap(),
            masks_before,
        });
    }
    out
}

fn step<'a>(job: &'a GithubJob, name: &str) -> &'a GithubStep {
    job.steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step `{name}` ran: {:?}", job.steps))
}

#[test]
fn the_github_actions_recipe_brings_a_pull_requests_stage_up_masks_its_secrets_and_removes_it() {
    let workflow = yaml("examples/ci/github/preview-databases.yml");
    let p = shop("cigh");
    // A branch name of the kind pull requests have: `--stage auto` slugs it.
    let stage = "feature-preview-db";
    // The event's activity type (`opened`, `closed`) is in the event payload, which only the
    // jobs' `if:` read; the steps see the same variables for all of them.
    let ci = |event: &str, _action: &str| -> BTreeMap<&str, String> {
        let mut ci: BTreeMap<&str, String> = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_REF_NAME", "7/merge"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_HEAD_REF", "feature/Preview_DB"),
            ("GITHUB_RUN_ID", "1001"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        if event != "pull_request" {
            // Not a pull request: GitHub sets no head or base ref.
            ci.remove("GITHUB_HEAD_REF");
            ci.remove("GITHUB_BASE_REF");
            ci.insert("GITHUB_REF_NAME", "main".into());
        }
        ci
    };
    let known: BTreeMap<&str, &str> = BTreeMap::new();
    // Each job's condition names the event the test runs it for.
    let cond = |job: &str| workflow["jobs"][job]["if"].as_str().unwrap().to_owned();
    assert!(cond("preview").contains("github.event.action != 'closed'"));
    assert!(cond("destroy").contains("github.event.action == 'closed'"));
    assert!(cond("gc").contains("github.event_name == 'schedule'"));
    let on = &workflow["on"];
    assert_eq!(
        on["pull_request"]["types"],
        serde_json::json!(["opened", "synchronize", "reopened", "closed"])
    );
    assert!(on["schedule"][0]["cron"].is_string());

    // A pull request is opened, then pushed to (synchronize): the same job twice.
    let mut preview = run_github_job(
        &p,
        &workflow,
        "preview",
        &ci("pull_request", "opened"),
        &known,
    );
    assert_eq!(
        preview.skipped,
        [
            "actions/checkout@v4",
            "aws-actions/configure-aws-credentials@v4",
            "Comment the plan on the pull request"
        ]
    );
    let ran: Vec<&str> = preview.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        ran,
        [
            "Install provision",
            "Plan",
            "Up",
            "Link variables",
            "Test the app against the preview"
        ]
    );
    assert_eq!(
        stage_on_aws(&p, stage),
        [
            format!("provision/shop/{stage}/db"),
            format!("provision/shop/{stage}/redis"),
            format!("shop-{stage}-db"),
            format!("shop-{stage}-redis"),
        ]
    );
    let tags = instance_tags(&p, &format!("shop-{stage}-db"));
    assert_eq!(tags["provision:stage"], stage);
    assert!(tags.contains_key("provision:expires-at"), "{tags:?}");

    // The job summary has the Markdown plan of the stage, with its cost per day.
    let plan = step(&preview, "Plan");
    assert!(
        plan.summary.contains(&format!("stage `{stage}`")),
        "{}",
        plan.summary
    );
    assert!(
        plan.summary.contains("| database | per month | per day |"),
        "{}",
        plan.summary
    );
    // db.t4g.micro has a price; the preview's cache.t4g.micro has none in the table.
    assert!(
        plan.summary.contains("| `redis` | no price | no price |"),
        "{}",
        plan.summary
    );

    // GITHUB_ENV has every link variable, exactly as `provision env` gives them.
    let want = link_vars(&p, stage);
    let secrets = secret_values(&want);
    assert!(secrets.len() >= 4, "{want:?}");
    let link = step(&preview, "Link variables");
    assert_eq!(runner_env_file(&link.env_file), want);
    // Its stdout is the masks, one per secret value, and nothing else; stderr names no value.
    let ran = link.ran.as_ref().unwrap();
    let mut masks = masks_in(&ran.stdout);
    masks.sort();
    let mut expected = secrets.clone();
    expected.sort();
    assert_eq!(masks, expected);
    assert_eq!(ran.stdout.lines().count(), expected.len(), "{}", ran.stdout);
    assert!(link.masks_before.is_empty());
    // The app's tests got the variables, and what they printed is masked in the log.
    let test = step(&preview, "Test the app against the preview");
    let saw_file = p
        .live
        .project
        .dir
        .parent()
        .unwrap()
        .join("runner-preview/app-tests-saw");
    let app_saw = saw(&saw_file);
    for (k, v) in &want {
        if k.starts_with("DB_") || k.starts_with("REDIS_") {
            assert_eq!(app_saw.get(k), Some(v), "{k}");
        }
    }
    let log = masked(&test.ran.as_ref().unwrap().stdout, &preview.masks);
    assert_eq!(log.trim(), "tests see DB_URL=*** REDIS_PASSWORD=***");
    // No step printed a secret anywhere but in a mask.
    for s in &preview.steps {
        let r = s.ran.as_ref().unwrap();
        let unmasked_stdout: String = r
            .stdout
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect();
        for secret in &secrets {
            assert!(!r.stderr.contains(secret.as_str()), "{}: stderr", s.name);
            if s.name != "Test the app against the preview" {
                assert!(
                    !unmasked_stdout.contains(secret.as_str()),
                    "{}: stdout",
                    s.name
                );
            }
        }
    }

    // A push: the same job again adopts the stage and hands over the same variables.
    preview = run_github_job(
        &p,
        &workflow,
        "preview",
        &ci("pull_request", "synchronize"),
        &known,
    );
    assert_eq!(
        runner_env_file(&step(&preview, "Link variables").env_file),
        want
    );
    assert_eq!(stage_on_aws(&p, stage).len(), 4);

    // Another pull request's stage, long expired, for the nightly clean-up below.
    let mut env = base_env(&p);
    env.insert("AWS_REGION".into(), "us-east-1".into());
    let old = bash(
        &[],
        "provision up --cloud --stage old-pr --ttl 1d",
        &p.live.project.dir,
        &env,
    );
    assert_eq!(old.code, Some(0), "{old:?}");
    expire(&p, "old-pr");
    // `stages --json` prices each stage from what AWS reports of it (read here with boto3):
    // the table's db.t4g.micro and gp3 figures for the instance, "no price" for the cache
    // node type the table lacks.
    let live = p.boto3(
        "d = rds.describe_db_instances(DBInstanceIdentifier='shop-old-pr-db')['DBInstances'][0]\n\
         g = ec.describe_replication_groups(ReplicationGroupId='shop-old-pr-redis')['ReplicationGroups'][0]\n\
         out([d['DBInstanceClass'], d['AllocatedStorage'], d.get('StorageType'), g.get('CacheNodeType')])",
    );
    assert_eq!(live[0], "db.t4g.micro", "{live}");
    assert_eq!(live[2], "gp3", "{live}");
    let gb = live[1].as_f64().unwrap();
    let ran = bash(
        &[],
        "provision stages --cloud --json",
        &p.live.project.dir,
        &env,
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let stages: Value = serde_json::from_str(&ran.stdout).unwrap();
    let old = stages
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "old-pr")
        .unwrap();
    let cost = &old["cost"];
    assert_eq!(cost["estimate"], true);
    assert_eq!(cost["prices_date"], "2026-12-03");
    let monthly = 0.016 * 730.0 + gb * 0.115;
    let entry = |id: &str| {
        cost["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["resource"] == id)
            .unwrap()
            .clone()
    };
    let db = entry("shop-old-pr-db");
    assert!(
        (db["monthly"].as_f64().unwrap() - (monthly * 100.0).round() / 100.0).abs() < 1e-9,
        "{cost}"
    );
    let daily = (monthly * 24.0 / 730.0 * 100.0).round() / 100.0;
    assert!(
        (db["daily"].as_f64().unwrap() - daily).abs() < 1e-9,
        "{cost}"
    );
    let cache = entry("shop-old-pr-redis");
    assert_eq!(cache["class"], live[3], "{cost}");
    assert!(
        cache["no_price"]
            .as_str()
            .unwrap()
            .starts_with("no price for "),
        "{cost}"
    );
    assert_eq!(cost["unpriced"], 1);

    // The pull request is closed: its stage goes, whole; the expired one is not touched yet.
    let destroy = run_github_job(
        &p,
        &workflow,
        "destroy",
        &ci("pull_request", "closed"),
        &known,
    );
    assert_eq!(
        destroy.skipped,
        [
            "actions/checkout@v4",
            "aws-actions/configure-aws-credentials@v4"
        ]
    );
    assert_eq!(stage_on_aws(&p, stage), Vec::<String>::new());
    assert_eq!(stage_on_aws(&p, "old-pr").len(), 4);

    // The nightly run deletes what expired.
    let gc = run_github_job(&p, &workflow, "gc", &ci("schedule", ""), &known);
    assert_eq!(
        gc.skipped,
        [
            "actions/checkout@v4",
            "aws-actions/configure-aws-credentials@v4"
        ]
    );
    let out = &step(&gc, "Delete expired stages")
        .ran
        .as_ref()
        .unwrap()
        .stdout;
    assert!(out.contains("deleted stage old-pr"), "{out}");
    // `stages` (text) before `gc`: the stage's estimate per month and per day, and the
    // resource without a price said so.
    let stage_line = out.lines().find(|l| l.starts_with("old-pr ")).unwrap();
    assert!(
        stage_line.contains("est. ") && stage_line.contains("/day), 1 without a price"),
        "{out}"
    );
    assert!(out.contains("prices copied on 2026-12-03"), "{out}");
    assert_eq!(stage_on_aws(&p, "old-pr"), Vec::<String>::new());
}

#[test]
fn env_format_github_refuses_a_redirect_into_github_env_and_a_step_without_it() {
    let p = shop("cighenv");
    let mut env = base_env(&p);
    env.insert("AWS_REGION".into(), "us-east-1".into());
    let dir = p.live.project.dir.clone();
    let file = dir.parent().unwrap().join("github-env");
    std::fs::write(&file, "").unwrap();
    env.insert("GITHUB_ENV".into(), file.display().to_string());
    // The old recipe line: refused before AWS is asked, nothing written.
    let ran = bash(
        &[],
        "provision env --cloud --stage pr-1 --format github >> \"$GITHUB_ENV\"",
        &dir,
        &env,
    );
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(
        ran.stderr.contains("stdout is the file `GITHUB_ENV` names"),
        "{}",
        ran.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    env.remove("GITHUB_ENV");
    let ran = bash(
        &[],
        "provision env --cloud --stage pr-1 --format github",
        &dir,
        &env,
    );
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(
        ran.stderr.contains("`GITHUB_ENV` is not set"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stdout, "");
}

// ---------------------------------------------------------------------------------------------
// GitLab CI

/// GitLab's `extends:` merge: hashes merged key by key, deeply; anything else replaced.
fn deep_merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let merged = m.get(k).map_or_else(|| v.clone(), |bv| deep_merge(bv, v));
                m.insert(k.clone(), merged);
            }
            Value::Object(m)
        }
        _ => over.clone(),
    }
}

fn gitlab_job(ci: &Value, name: &str) -> Value {
    let job = &ci[name];
    match job["extends"].as_str() {
        Some(parent) => {
            let mut merged = deep_merge(&gitlab_job(ci, parent), job);
            merged.as_object_mut().unwrap().remove("extends");
            merged
        }
        None => job.clone(),
    }
}

/// `$NAME` and `${NAME}` from `vars`, as the runner expands variables in variables.
fn expand(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = value.to_owned();
    for (k, v) in vars {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    out
}

struct GitlabJob {
    ran: Ran,
    skipped: Vec<String>,
    dotenv: BTreeMap<String, String>,
}

fn run_gitlab_job(
    p: &CloudProject,
    ci: &Value,
    name: &str,
    predefined: &BTreeMap<&str, String>,
    from_needs: &BTreeMap<String, String>,
) -> GitlabJob {
    let dir = &p.live.project.dir;
    let job = gitlab_job(ci, name);
    let mut env = base_env(p);
    for (k, v) in predefined {
        env.insert((*k).to_owned(), v.clone());
    }
    env.insert("CI_JOB_NAME".into(), name.to_owned());
    env.insert("CI_PROJECT_DIR".into(), dir.display().to_string());
    for vars in [&ci["variables"], &job["variables"]] {
        for (k, v) in vars.as_object().into_iter().flatten() {
            let value = expand(v.as_str().unwrap(), &env);
            env.insert(k.clone(), value);
        }
    }
    if let Some(e) = job["environment"]["name"].as_str() {
        let expanded = expand(e, &env);
        env.insert("CI_ENVIRONMENT_NAME".into(), expanded);
    }
    env.extend(from_needs.clone());
    env.insert("APP_TESTS".into(), APP_TESTS.into());
    let work = dir.parent().unwrap().join(format!("gitlab-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    env.insert(
        "APP_TESTS_SAW".into(),
        work.join("app-tests-saw").display().to_string(),
    );
    let mut lines = Vec::new();
    let mut skipped = Vec::new();
    for part in ["before_script", "script"] {
        for line in job[part].as_array().into_iter().flatten() {
            let line = line.as_str().unwrap();
            if line.contains(MARKER) {
                skipped.push(line.to_owned());
            } else {
                lines.push(line.to_owned());
            }
        }
    }
    let script = format!("set -eo pipefail\n{}\n", lines.join("\n"));
    let ran = bash(&[], &script, dir, &env);
    assert_eq!(ran.code, Some(0), "job `{name}` failed: {ran:?}");
    let dotenv = job["artifacts"]["reports"]["dotenv"]
        .as_str()
        .map(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    GitlabJob {
        ran,
        skipped,
        dotenv,
    }
}

#[test]
fn the_gitlab_ci_recipe_brings_a_merge_requests_stage_up_and_its_stop_job_removes_it() {
    let ci = yaml("examples/ci/gitlab/.gitlab-ci.yml");
    let p = shop("cigl");
    let stage = "mr-42";
    let predefined = |source: &str| -> BTreeMap<&str, String> {
        let mut v: BTreeMap<&str, String> = [
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_SOURCE", source),
            ("CI_COMMIT_REF_NAME", "feature/Preview_DB"),
            ("CI_COMMIT_REF_SLUG", "feature-preview-db"),
            ("CI_API_V4_URL", "http://127.0.0.1:9/api/v4"),
            ("CI_MERGE_REQUEST_IID", "42"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "7"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        if source != "merge_request_event" {
            v.remove("CI_MERGE_REQUEST_IID");
            v.remove("CI_MERGE_REQUEST_PROJECT_ID");
            v.insert("CI_COMMIT_REF_NAME", "main".into());
            v.insert("CI_COMMIT_REF_SLUG", "main".into());
        }
        v
    };
    // Each job's rules name the pipeline source the test runs it for; the stop job is the
    // environment's `on_stop`, with `action: stop` on the same environment.
    let rule = |job: &str| {
        gitlab_job(&ci, job)["rules"][0]["if"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for job in ["preview", "test", "preview-stop"] {
        assert_eq!(rule(job), r#"$CI_PIPELINE_SOURCE == "merge_request_event""#);
    }
    assert_eq!(rule("gc"), r#"$CI_PIPELINE_SOURCE == "schedule""#);
    let preview_job = gitlab_job(&ci, "preview");
    let stop_job = gitlab_job(&ci, "preview-stop");
    assert_eq!(preview_job["environment"]["on_stop"], "preview-stop");
    assert_eq!(stop_job["environment"]["action"], "stop");
    assert_eq!(
        preview_job["environment"]["name"],
        stop_job["environment"]["name"]
    );
    // The OIDC item of `.provision`'s before_script, in every job.
    let oidc_lines = 1;

    // The merge request pipeline: preview, then test (which needs it).
    let mr = predefined("merge_request_event");
    let none = BTreeMap::new();
    let preview = run_gitlab_job(&p, &ci, "preview", &mr, &none);
    assert_eq!(
        preview.skipped.len(),
        oidc_lines + 1,
        "{:?}",
        preview.skipped
    );
    assert!(preview.skipped.last().unwrap().contains("/notes"));
    assert_eq!(
        stage_on_aws(&p, stage),
        [
            format!("provision/shop/{stage}/db"),
            format!("provision/shop/{stage}/redis"),
            format!("shop-{stage}-db"),
            format!("shop-{stage}-redis"),
        ]
    );
    assert!(instance_tags(&p, &format!("shop-{stage}-db")).contains_key("provision:expires-at"));
    let plan = std::fs::read_to_string(p.live.project.dir.join("plan.md")).unwrap();
    assert!(plan.contains(&format!("stage `{stage}`")), "{plan}");
    assert_eq!(
        preview.dotenv.get("PROVISION_STAGE").map(String::as_str),
        Some(stage)
    );

    let test = run_gitlab_job(&p, &ci, "test", &mr, &preview.dotenv);
    assert_eq!(test.skipped.len(), oidc_lines);
    let want = link_vars(&p, stage);
    let app_saw = saw(&p
        .live
        .project
        .dir
        .parent()
        .unwrap()
        .join("gitlab-test/app-tests-saw"));
    let mut count = 0;
    for (k, v) in &want {
        if k.starts_with("DB_") || k.starts_with("REDIS_") {
            assert_eq!(app_saw.get(k), Some(v), "{k}");
            count += 1;
        }
    }
    assert!(count >= 10, "{app_saw:?}");
    // Nothing but the app itself printed a secret (GitLab would not mask it).
    for secret in secret_values(&want) {
        for job in [&preview, &test] {
            assert!(!job.ran.stderr.contains(&secret));
        }
        assert!(!preview.ran.stdout.contains(&secret));
    }

    // The merge request is merged: GitLab runs the environment's stop job.
    let stop = run_gitlab_job(&p, &ci, "preview-stop", &mr, &none);
    assert_eq!(stop.skipped.len(), oidc_lines);
    assert_eq!(stage_on_aws(&p, stage), Vec::<String>::new());

    // The schedule: an expired stage is collected.
    let mut env = base_env(&p);
    env.insert("AWS_REGION".into(), "us-east-1".into());
    let old = bash(
        &[],
        "provision up --cloud --stage mr-1 --ttl 1d",
        &p.live.project.dir,
        &env,
    );
    assert_eq!(old.code, Some(0), "{old:?}");
    expire(&p, "mr-1");
    let gc = run_gitlab_job(&p, &ci, "gc", &predefined("schedule"), &none);
    assert!(
        gc.ran.stdout.contains("deleted stage mr-1"),
        "{}",
        gc.ran.stdout
    );
    assert_eq!(stage_on_aws(&p, "mr-1"), Vec::<String>::new());
}
