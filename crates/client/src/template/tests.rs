use std::os::unix::fs::PermissionsExt;

use drover_api::{Task, Template as Block};
use serde_json::json;

use super::*;

fn block(data: &str, dest: &str) -> Block {
    let mut b = Block {
        embedded_tmpl: data.into(),
        dest_path: dest.into(),
        ..Default::default()
    };
    b.canonicalize();
    b
}

/// A task directory `web` inside the allocation directory `root`, with the shared `alloc/`.
fn task_dir(root: &std::path::Path) -> TaskDir {
    let task = root.join("web");
    let dir = TaskDir {
        dir: task.clone(),
        local: task.join("local"),
        secrets: task.join("secrets"),
        tmp: task.join("tmp"),
        private: task.join("private"),
    };
    for d in [&dir.local, &dir.secrets, &root.join("alloc/data")] {
        std::fs::create_dir_all(d).unwrap();
    }
    dir
}

fn var(password: &str) -> Value {
    json!({"Path": "nomad/jobs/web", "Namespace": "default", "Items": {"password": password},
           "CreateIndex": 1, "ModifyIndex": 2})
}

#[tokio::test]
async fn renders_when_complete_writes_changes_only_and_reads_env_outputs() {
    let root = tempfile::tempdir().unwrap();
    let dir = task_dir(root.path());
    let read = r#"{{ with nomadVar "nomad/jobs/web" }}{{ .password }}{{ end }}"#;
    let mut file = block(
        &format!("pw={read} home={{{{ env \"HOME_DIR\" }}}}"),
        "local/app.conf",
    );
    file.perms = "0640".into();
    let mut env = block(&format!("DB_PASSWORD={read}\n"), "secrets/app.env");
    env.envvars = true;
    env.change_mode = "signal".into();
    env.change_signal = "SIGHUP".into();
    let task = Task {
        name: "web".into(),
        templates: vec![file, env],
        ..Default::default()
    };
    let task_env = BTreeMap::from([("HOME_DIR".to_string(), "/srv".to_string())]);
    let mut templates = TaskTemplates::load(&task, &dir, task_env).unwrap();

    let mut data = Data::default();
    let pass = templates.render(&data).await.unwrap();
    let dep = Dependency::NomadVar {
        path: "nomad/jobs/web".into(),
    };
    assert_eq!(pass.missing, BTreeSet::from([dep.clone()]));

    data.values.insert(dep.clone(), var("p1"));
    let pass = templates.render(&data).await.unwrap();
    assert!(pass.missing.is_empty());
    assert_eq!(templates.write(&pass).unwrap(), vec![0, 1]);
    let conf = root.path().join("web/local/app.conf");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "pw=p1 home=/srv");
    let mode = std::fs::metadata(&conf).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(templates.env_vars().unwrap()["DB_PASSWORD"], "p1");
    assert!(
        templates.write(&pass).unwrap().is_empty(),
        "unchanged outputs are not rewritten"
    );

    data.values.insert(dep, var("p2"));
    let pass = templates.render(&data).await.unwrap();
    let changed = templates.write(&pass).unwrap();
    assert_eq!(changed, vec![0, 1]);
    // restart (the file's default) outweighs the env template's signal.
    assert_eq!(templates.change_for(&changed).action, ChangeAction::Restart);
    assert!(matches!(
        templates.change_for(&[1]).action,
        ChangeAction::Signal(_)
    ));
}

#[tokio::test]
async fn a_broken_template_names_its_destination() {
    let root = tempfile::tempdir().unwrap();
    let dir = task_dir(root.path());
    let task = Task {
        templates: vec![block("{{ if .x }}never closed", "local/broken.txt")],
        ..Default::default()
    };
    let err = TaskTemplates::load(&task, &dir, BTreeMap::new())
        .err()
        .expect("an unterminated block is an error");
    assert!(err.contains("local/broken.txt"), "{err}");
}

#[tokio::test]
async fn sources_must_stay_in_the_allocation_directory_and_not_be_links() {
    let root = tempfile::tempdir().unwrap();
    let dir = task_dir(root.path());
    std::fs::write(root.path().join("web/local/t.tpl"), "from file").unwrap();
    let mut from_file = block("", "local/out.txt");
    from_file.source_path = "local/t.tpl".into();
    let task = Task {
        templates: vec![from_file.clone()],
        ..Default::default()
    };
    let mut templates = TaskTemplates::load(&task, &dir, BTreeMap::new()).unwrap();
    let pass = templates.render(&Data::default()).await.unwrap();
    templates.write(&pass).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("web/local/out.txt")).unwrap(),
        "from file"
    );

    // Not through a link planted by the task, not out of the allocation directory.
    std::os::unix::fs::symlink("/etc/passwd", root.path().join("web/local/link.tpl")).unwrap();
    for source in ["local/link.tpl", "../../etc/passwd"] {
        from_file.source_path = source.into();
        let task = Task {
            templates: vec![from_file.clone()],
            ..Default::default()
        };
        assert!(
            TaskTemplates::load(&task, &dir, BTreeMap::new()).is_err(),
            "{source}"
        );
    }
    from_file.source_path = "../../etc/passwd".into();
    let task = Task {
        templates: vec![from_file],
        ..Default::default()
    };
    assert!(TaskTemplates::load(&task, &dir, BTreeMap::new()).is_err());
}

#[tokio::test]
async fn paths_take_task_variables_and_may_reach_the_shared_alloc_dir_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = task_dir(root.path());
    let env = BTreeMap::from([(
        "NOMAD_SECRETS_DIR".to_string(),
        dir.secrets.display().to_string(),
    )]);
    let task = Task {
        templates: vec![
            block("s", "${NOMAD_SECRETS_DIR}/app.env"),
            block("shared", "../alloc/data/shared.txt"),
        ],
        ..Default::default()
    };
    let mut templates = TaskTemplates::load(&task, &dir, env.clone()).unwrap();
    let pass = templates.render(&Data::default()).await.unwrap();
    assert_eq!(templates.write(&pass).unwrap(), vec![0, 1]);
    assert_eq!(
        std::fs::read_to_string(dir.secrets.join("app.env")).unwrap(),
        "s"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("alloc/data/shared.txt")).unwrap(),
        "shared"
    );

    for escape in ["../../outside.txt", "/etc/drover-test-escape"] {
        let task = Task {
            templates: vec![block("x", escape)],
            ..Default::default()
        };
        let mut templates = TaskTemplates::load(&task, &dir, env.clone()).unwrap();
        let pass = templates.render(&Data::default()).await.unwrap();
        let err = templates.write(&pass).unwrap_err();
        assert!(err.contains("allocation directory"), "{escape}: {err}");
    }
}
