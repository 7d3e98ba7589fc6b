//! Filesystem API helpers against real directories.

use futures_util::StreamExt;

use super::*;

fn alloc_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("alloc/logs")).unwrap();
    std::fs::create_dir_all(root.join("web/secrets")).unwrap();
    std::fs::create_dir_all(root.join("web/local")).unwrap();
    std::fs::write(root.join("web/secrets/token"), "s3cret").unwrap();
    std::fs::write(root.join("web/local/app.conf"), "port=1").unwrap();
    dir
}

#[tokio::test]
async fn cat_and_ls_inside_the_alloc_dir() {
    let dir = alloc_dir();
    assert_eq!(
        cat(dir.path(), "/web/local/app.conf").await.unwrap(),
        b"port=1"
    );
    let names: Vec<String> = ls(dir.path(), "web")
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, vec!["local", "secrets"]);
    let root = ls(dir.path(), "/").unwrap();
    assert!(
        root.iter()
            .any(|f| f.name == "alloc" && f.is_dir && f.file_mode.starts_with('d'))
    );
    assert!(matches!(
        cat(dir.path(), "web").await,
        Err(FsError::IsDir(_))
    ));
    assert!(matches!(
        cat(dir.path(), "web/nope").await,
        Err(FsError::NotFound(_))
    ));
}

#[tokio::test]
async fn escapes_are_refused() {
    let dir = alloc_dir();
    assert!(matches!(
        cat(dir.path(), "../../etc/passwd").await,
        Err(FsError::Escape(_))
    ));
    assert!(matches!(
        ls(dir.path(), "web/../.."),
        Err(FsError::Escape(_))
    ));
    std::os::unix::fs::symlink("/etc", dir.path().join("web/local/etc")).unwrap();
    assert!(matches!(
        cat(dir.path(), "web/local/etc/hostname").await,
        Err(FsError::Escape(_))
    ));
}

#[tokio::test]
async fn secrets_are_not_readable() {
    let dir = alloc_dir();
    assert!(matches!(
        cat(dir.path(), "web/secrets/token").await,
        Err(FsError::Secret(_))
    ));
    assert!(matches!(
        ls(dir.path(), "/web/./secrets"),
        Err(FsError::Secret(_))
    ));
    std::os::unix::fs::symlink(
        dir.path().join("web/secrets"),
        dir.path().join("web/local/s"),
    )
    .unwrap();
    assert!(matches!(
        cat(dir.path(), "web/local/s/token").await,
        Err(FsError::Secret(_))
    ));
}

async fn collect(stream: impl Stream<Item = Result<LogChunk, FsError>>) -> Vec<LogChunk> {
    stream.map(|c| c.unwrap()).collect().await
}

fn text(chunks: &[LogChunk]) -> String {
    chunks
        .iter()
        .map(|c| String::from_utf8_lossy(&c.data).into_owned())
        .collect()
}

#[tokio::test]
async fn logs_read_across_rotated_files_with_offsets() {
    let dir = alloc_dir();
    let logs_dir = dir.path().join("alloc/logs");
    std::fs::write(logs_dir.join("web.stdout.3"), "abcd").unwrap();
    std::fs::write(logs_dir.join("web.stdout.4"), "efgh").unwrap();
    std::fs::write(logs_dir.join("web.stdout.5"), "ij").unwrap();
    std::fs::write(logs_dir.join("web.stderr.0"), "other").unwrap();

    let all = collect(logs(
        dir.path(),
        "web",
        LogKind::Stdout,
        Origin::Start,
        0,
        false,
    ))
    .await;
    assert_eq!(text(&all), "abcdefghij");
    assert_eq!(all[0].file, "alloc/logs/web.stdout.3");

    let from6 = collect(logs(
        dir.path(),
        "web",
        LogKind::Stdout,
        Origin::Start,
        6,
        false,
    ))
    .await;
    assert_eq!(text(&from6), "ghij");
    assert_eq!(
        (from6[0].file.as_str(), from6[0].offset),
        ("alloc/logs/web.stdout.4", 2)
    );

    let tail3 = collect(logs(
        dir.path(),
        "web",
        LogKind::Stdout,
        Origin::End,
        3,
        false,
    ))
    .await;
    assert_eq!(text(&tail3), "hij");

    let past = collect(logs(
        dir.path(),
        "web",
        LogKind::Stdout,
        Origin::End,
        100,
        false,
    ))
    .await;
    assert_eq!(text(&past), "abcdefghij");
}

#[tokio::test]
async fn following_sees_new_bytes_and_ends_when_the_task_is_dead() {
    let dir = alloc_dir();
    let logs_dir = dir.path().join("alloc/logs");
    std::fs::write(logs_dir.join("web.stdout.0"), "one\n").unwrap();
    let root = dir.path().to_path_buf();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(root.join("alloc/logs/web.stdout.1"), "two\n").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(dead_marker(&root, "web"), "").unwrap();
    });
    let chunks = collect(logs(
        dir.path(),
        "web",
        LogKind::Stdout,
        Origin::Start,
        0,
        true,
    ))
    .await;
    writer.await.unwrap();
    assert_eq!(text(&chunks), "one\ntwo\n");
}

#[tokio::test]
async fn bad_task_names_are_refused() {
    let dir = alloc_dir();
    let mut s = Box::pin(logs(
        dir.path(),
        "../x",
        LogKind::Stdout,
        Origin::Start,
        0,
        false,
    ));
    assert!(matches!(s.next().await, Some(Err(FsError::InvalidTask(_)))));
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn cat_refuses_fifos_and_large_files_without_blocking() {
    let dir = alloc_dir();
    let fifo = dir.path().join("web/local/pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let read = tokio::time::timeout(Duration::from_secs(5), cat(dir.path(), "web/local/pipe"))
        .await
        .expect("cat blocked on a FIFO");
    assert!(matches!(read, Err(FsError::NotRegular(_))), "{read:?}");

    let big = std::fs::File::create(dir.path().join("web/local/big")).unwrap();
    big.set_len(CAT_LIMIT + 1).unwrap();
    let err = cat(dir.path(), "web/local/big").await.unwrap_err();
    assert!(matches!(err, FsError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("16777216"), "{err}");

    std::fs::File::create(dir.path().join("web/local/edge"))
        .unwrap()
        .set_len(CAT_LIMIT)
        .unwrap();
    assert_eq!(
        cat(dir.path(), "web/local/edge").await.unwrap().len() as u64,
        CAT_LIMIT
    );
}

#[tokio::test]
async fn list_runs_off_the_runtime_and_matches_ls() {
    let dir = alloc_dir();
    assert_eq!(
        list(dir.path(), "web").await.unwrap(),
        ls(dir.path(), "web").unwrap()
    );
    assert!(matches!(
        list(dir.path(), "web/local/app.conf").await,
        Err(FsError::NotDir(_))
    ));
}

#[tokio::test]
async fn logs_of_an_unknown_task_fail_instead_of_following_forever() {
    let dir = alloc_dir();
    let mut s = Box::pin(logs(
        dir.path(),
        "nope",
        LogKind::Stdout,
        Origin::Start,
        0,
        true,
    ));
    let first = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("logs of an unknown task kept waiting");
    assert!(
        matches!(first, Some(Err(FsError::UnknownTask(_)))),
        "{first:?}"
    );
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn logs_refuse_symlinked_and_special_log_files() {
    let dir = alloc_dir();
    let logs_dir = dir.path().join("alloc/logs");
    std::os::unix::fs::symlink("/etc/hostname", logs_dir.join("web.stdout.0")).unwrap();
    let mut s = Box::pin(logs(
        dir.path(),
        "web",
        LogKind::Stdout,
        Origin::Start,
        0,
        false,
    ));
    assert!(matches!(s.next().await, Some(Err(FsError::NotRegular(_)))));

    nix::unistd::mkfifo(
        &logs_dir.join("web.stderr.0"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let mut s = Box::pin(logs(
        dir.path(),
        "web",
        LogKind::Stderr,
        Origin::Start,
        0,
        true,
    ));
    let first = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("reading a FIFO log blocked");
    assert!(
        matches!(first, Some(Err(FsError::NotRegular(_)))),
        "{first:?}"
    );
}
