//! `schema_sync` end to end through the API: a diff run between two real
//! databases (`[databases.dev]` desired, `[databases.prod]` current) writes
//! the SQL, the summary and the ERD and changes nothing; an apply run with
//! the reviewed fingerprint migrates prod in one transaction and verifies by
//! diffing again; an apply whose migration is not the reviewed one is refused.

mod support;

use opsroom_adapters::git::{GitAuthor, GitFile, GitOptions, GitRepo};
use opsroom_adapters::testing::github::FakeGitHub;
use opsroom_core::RunStatus;
use opsroom_store::testing::test_database_url;
use opsroom_store::DynStore;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use support::{secret_file, temp_dir, Api, Finished, NewRun, TOKEN};

fn url_for(database: &str) -> String {
    let base = test_database_url();
    let (head, _) = base.rsplit_once('/').unwrap();
    format!("{head}/{database}")
}

/// Runs each `;`-separated statement on its own: DROP/CREATE DATABASE
/// refuse the implicit transaction of a multi-statement query.
async fn admin(sql: &str) {
    let mut c = PgConnection::connect(&test_database_url()).await.unwrap();
    for statement in sql.split("; ") {
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
    }
}

async fn database(tag: &str, sql: &str) -> String {
    let name = format!("opsroom_schema_sync_{tag}_{}", std::process::id());
    admin(&format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name} TEMPLATE template0"
    ))
    .await;
    let mut c = PgConnection::connect(&url_for(&name)).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    name
}

const DEV: &str = "CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL); \
                   CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), total numeric(12,2));";
const PROD: &str =
    "CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, legacy text); \
                    INSERT INTO customers VALUES (1, 'a@x', 'old');";

async fn start(store: &DynStore, dev: &str, prod: &str) -> Api {
    let config = format!(
        "[secrets]\nprod_db = \"{}\"\n\n[databases.dev]\nurl = \"{}\"\n\n[databases.prod]\nurl_secret = \"prod_db\"\n",
        secret_file(&url_for(prod)),
        url_for(dev)
    );
    Api::start(store, &config, 1).await
}

async fn sync(api: &Api, params: serde_json::Value) -> Finished {
    let id = api
        .submit(NewRun {
            runbook: "schema_sync",
            env: None,
            target: None,
            params,
        })
        .await;
    Finished::load(api, id).await
}

async fn diffs_then_applies_the_reviewed_migration(store: DynStore) {
    let tag = if store.backend() == "postgres" {
        "pg"
    } else {
        "lite"
    };
    let dev = database(&format!("dev_{tag}"), DEV).await;
    let prod = database(&format!("prod_{tag}"), PROD).await;
    let api = start(&store, &dev, &prod).await;

    let diff = sync(&api, json!({"source_env": "dev", "target_env": "prod"})).await;
    assert_eq!(diff.run.status, RunStatus::Succeeded, "{}", diff.log());
    let sql = &diff.artifact("schema-diff.sql").content;
    assert!(sql.contains("CREATE TABLE public.orders"), "{sql}");
    assert!(
        sql.contains("-- hazard: data_loss: drops column legacy of public.customers"),
        "{sql}"
    );
    let md = &diff.artifact("schema-diff.md").content;
    assert!(md.contains("## Hazards (1)"), "{md}");
    assert!(diff.artifact("erd.svg").content.starts_with("<svg "));
    assert!(diff
        .artifact("erd.mmd")
        .content
        .contains("customers ||--o{ orders"));
    assert!(diff.log().contains("diff only"), "{}", diff.log());
    diff.assert_never_shows(&url_for(&prod));
    let print = diff
        .events
        .iter()
        .find_map(|e| {
            e.data
                .get("fingerprint")
                .and_then(|f| f.as_str())
                .map(String::from)
        })
        .expect("the diff's fingerprint");

    let refused = sync(
        &api,
        json!({"apply": true, "fingerprint": "0000000000000000"}),
    )
    .await;
    assert_eq!(refused.run.status, RunStatus::Failed);
    assert!(
        refused.error().contains("changed since the reviewed diff"),
        "{}",
        refused.error()
    );

    let applied = sync(&api, json!({"apply": true, "fingerprint": print})).await;
    assert_eq!(
        applied.run.status,
        RunStatus::Succeeded,
        "{}",
        applied.log()
    );
    assert!(
        applied.log().contains("a second diff is empty"),
        "{}",
        applied.log()
    );
    let again = sync(&api, json!({})).await;
    assert!(again.log().contains("already matches"), "{}", again.log());
    assert!(again.artifact("schema-diff.sql").content.is_empty());
    api.stop().await;

    let mut c = PgConnection::connect(&url_for(&prod)).await.unwrap();
    let email: String = sqlx::query_scalar("SELECT email FROM customers WHERE id = 1")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(email, "a@x");
    drop(c);
    admin(&format!(
        "DROP DATABASE {dev} WITH (FORCE); DROP DATABASE {prod} WITH (FORCE)"
    ))
    .await;
}

async fn names_a_database_that_is_not_configured(store: DynStore) {
    let api = Api::start(
        &store,
        "[databases.dev]\nurl = \"postgres://127.0.0.1:1/x\"\n",
        1,
    )
    .await;
    let done = sync(&api, json!({"source_env": "dev", "target_env": "prod"})).await;
    api.stop().await;
    assert_eq!(done.run.status, RunStatus::Failed);
    assert!(
        done.error()
            .contains("database `prod` is not configured; add [databases.prod]"),
        "{}",
        done.error()
    );
}

/// A bare repository whose `main` holds `db/migrations/0001_init.sql`;
/// returns its `file://` URL.
async fn migrations_repo(root: &std::path::Path) -> String {
    let bare = root.join("app.git");
    GitRepo::init(&bare, true, "main", GitOptions::default())
        .await
        .unwrap();
    let url = format!("file://{}", bare.display());
    let work = GitRepo::init(&root.join("seed"), false, "main", GitOptions::default())
        .await
        .unwrap();
    let author = GitAuthor {
        name: "t".into(),
        email: "t@localhost".into(),
    };
    work.commit_files(
        &[GitFile::text("db/migrations/0001_init.sql", "select 1;\n")],
        "initial",
        &author,
    )
    .await
    .unwrap();
    work.add_remote("origin", &url).await.unwrap();
    work.push("origin", "main").await.unwrap();
    url
}

/// A diff run proposes its migration as the next file of prod's
/// migrations: into the folder, or on a branch of the repository; the
/// same migration is never proposed twice.
async fn proposes_the_migration_as_the_next_file(store: DynStore) {
    let tag = if store.backend() == "postgres" {
        "pgp"
    } else {
        "litep"
    };
    let dev = database(&format!("dev_{tag}"), DEV).await;
    let prod = database(&format!("prod_{tag}"), PROD).await;
    let root = temp_dir("schema-sync-proposal");
    let folder = root.join("migrations");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("0001_init.sql"), "select 1;").unwrap();
    std::fs::write(folder.join("0002_users.sql"), "select 2;").unwrap();
    let base = format!(
        "[secrets]\nprod_db = \"{}\"\n\n[databases.dev]\nurl = \"{}\"\n\n[databases.prod]\nurl_secret = \"prod_db\"\n\n[environments.prod.migrations]\ndir = \"{}\"\ndatabase_url_secret = \"prod_db\"\n",
        secret_file(&url_for(&prod)),
        url_for(&dev),
        folder.display()
    );

    let api = Api::start(&store, &base, 1).await;
    let diff = sync(&api, json!({})).await;
    assert_eq!(diff.run.status, RunStatus::Succeeded, "{}", diff.log());
    let file = folder.join("0003_sync_prod_from_dev.sql");
    let written = std::fs::read_to_string(&file).expect("the next migration file");
    assert!(written.contains("CREATE TABLE public.orders"), "{written}");
    assert!(written.contains(&diff.artifact("schema-diff.sql").content));
    let again = sync(&api, json!({})).await;
    assert!(
        again.log().contains("already proposed as"),
        "{}",
        again.log()
    );
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        3,
        "no second copy"
    );
    api.stop().await;

    let url = migrations_repo(&root).await;
    let with_repo = format!("{base}remote = \"{url}\"\npath = \"db/migrations\"\n");
    let api = Api::start(&store, &with_repo, 1).await;
    let proposed = sync(&api, json!({})).await;
    assert_eq!(
        proposed.run.status,
        RunStatus::Succeeded,
        "{}",
        proposed.log()
    );
    let branch = proposed
        .events
        .iter()
        .find_map(|e| {
            e.data
                .get("branch")
                .and_then(|b| b.as_str())
                .map(String::from)
        })
        .expect("the pushed branch");
    assert!(branch.starts_with("schema-sync/prod-"), "{branch}");
    let checkout = root.join("checkout");
    GitRepo::clone_from(&url, &checkout, Some(&branch), GitOptions::default())
        .await
        .unwrap();
    let in_repo =
        std::fs::read_to_string(checkout.join("db/migrations/0002_sync_prod_from_dev.sql"))
            .expect("the migration on the branch");
    assert!(in_repo.contains("CREATE TABLE public.orders"), "{in_repo}");
    let twice = sync(&api, json!({})).await;
    assert!(
        twice.log().contains("already proposed on branch"),
        "{}",
        twice.log()
    );
    api.stop().await;

    let _ = std::fs::remove_dir_all(&root);
    admin(&format!(
        "DROP DATABASE {dev} WITH (FORCE); DROP DATABASE {prod} WITH (FORCE)"
    ))
    .await;
}

/// With `github` in prod's migrations, the migration is proposed through
/// the GitHub API: numbered after the folder's listing on the base branch,
/// put on branch `schema-sync/prod-FINGERPRINT`, opened as a pull request
/// whose body is the diff report; never twice, whether the branch is still
/// open or the file was merged and not deployed yet.
async fn proposes_the_migration_as_a_pull_request_on_github(store: DynStore) {
    let tag = if store.backend() == "postgres" {
        "pgg"
    } else {
        "liteg"
    };
    let dev = database(&format!("dev_{tag}"), DEV).await;
    let prod = database(&format!("prod_{tag}"), PROD).await;
    let fake = FakeGitHub::start().await;
    {
        let mut world = fake.world.lock().unwrap();
        for (file, sha) in [("0001_init.sql", "blob-1"), ("0002_users.sql", "blob-2")] {
            world.files.insert(
                ("main".into(), format!("db/migrations/{file}")),
                (sha.into(), "select 1;\n".into()),
            );
        }
    }
    let config = format!(
        "[secrets]\nprod_db = \"{}\"\ngithub = \"{}\"\n\n[databases.dev]\nurl = \"{}\"\n\n[databases.prod]\nurl_secret = \"prod_db\"\n\n\
         [environments.prod.migrations]\ndir = \"migrations\"\ndatabase_url_secret = \"prod_db\"\n\
         github = {{ repo = \"acme/web\", token_secret = \"github\", path = \"db/migrations\", base_branch = \"main\", base_url = \"{}\" }}\n",
        secret_file(&url_for(&prod)),
        secret_file(TOKEN),
        url_for(&dev),
        fake.url
    );
    let api = Api::start(&store, &config, 1).await;
    let proposed = sync(&api, json!({})).await;
    assert_eq!(
        proposed.run.status,
        RunStatus::Succeeded,
        "{}",
        proposed.log()
    );
    let print = proposed
        .events
        .iter()
        .find_map(|e| {
            e.data
                .get("fingerprint")
                .and_then(|f| f.as_str())
                .map(String::from)
        })
        .expect("the diff's fingerprint");
    let branch = format!("schema-sync/prod-{print}");
    let path = "db/migrations/0003_sync_prod_from_dev.sql".to_string();
    {
        let world = fake.world.lock().unwrap();
        let (_, content) = world
            .files
            .get(&(branch.clone(), path.clone()))
            .unwrap_or_else(|| panic!("{path} on {branch}: {:?}", world.files.keys()));
        assert!(content.contains("CREATE TABLE public.orders"), "{content}");
        assert!(
            content.contains(&format!("-- Fingerprint {print};")),
            "{content}"
        );
        assert_eq!(world.pulls.len(), 1);
        let pr = &world.pulls[0];
        assert_eq!(pr["head"].as_str(), Some(branch.as_str()));
        assert_eq!(pr["base"].as_str(), Some("main"));
        let body = pr["body"].as_str().unwrap_or_default();
        assert_eq!(body, proposed.artifact("schema-diff.md").content);
        assert!(body.contains("## Hazards"), "{body}");
        assert!(
            body.contains("data_loss"),
            "the dropped column is a hazard: {body}"
        );
    }
    assert!(proposed
        .artifact("pull request")
        .content
        .starts_with("https://github.com/acme/web/pull/"));
    proposed.assert_never_shows(TOKEN);

    let again = sync(&api, json!({})).await;
    assert_eq!(again.run.status, RunStatus::Succeeded, "{}", again.log());
    assert!(
        again
            .log()
            .contains(&format!("already proposed on branch {branch}")),
        "{}",
        again.log()
    );

    // Merged (the file is on main, the branch deleted) but not deployed yet.
    {
        let mut world = fake.world.lock().unwrap();
        let file = world.files.remove(&(branch.clone(), path.clone())).unwrap();
        world.files.insert(("main".into(), path.clone()), file);
        world.branches.retain(|(b, _)| *b != branch);
    }
    let merged = sync(&api, json!({})).await;
    assert!(
        merged
            .log()
            .contains(&format!("already proposed as {path} on main")),
        "{}",
        merged.log()
    );
    assert_eq!(
        fake.world.lock().unwrap().pulls.len(),
        1,
        "no second pull request"
    );
    api.stop().await;
    admin(&format!(
        "DROP DATABASE {dev} WITH (FORCE); DROP DATABASE {prod} WITH (FORCE)"
    ))
    .await;
}

opsroom_store::on_both_stores!(
    diffs_then_applies_the_reviewed_migration,
    names_a_database_that_is_not_configured,
    proposes_the_migration_as_the_next_file,
    proposes_the_migration_as_a_pull_request_on_github
);
