//! `GET /api/projects` against the real server on port 0: the projects a user
//! can switch between, recorded and live, behind the token; without a store,
//! the live ones alone, and the answer says so.

use std::time::Duration;

use server::cli::client::{ApiClient, Method};
use server::store::{Retention, StoreConfig};
use server::testkit::{Scratch, Sleeper, TestServer, call, eventually, fast_config};
use server::{Auth, Config};
use shared::api::Projects;

const TOKEN: &str = "s3cret-token";

/// The list, once `ready` holds for it.
async fn projects_when(api: &ApiClient, what: &str, ready: impl Fn(&Projects) -> bool) -> Projects {
    eventually(Duration::from_secs(20), what, || async {
        let body = call(api, Method::GET, "/api/projects", None).await.ok()?;
        let list: Projects = serde_json::from_value(body).expect("the documented shape");
        ready(&list).then_some(list)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_and_live_projects_are_listed_behind_the_token() {
    let data = Scratch::new("projects-stored");
    let store = StoreConfig { dir: data.0.clone(), retention: Retention::default() };
    let auth = Auth { token: Some(TOKEN.into()), jwt_secret: None };
    let server = TestServer::start(Config { store: Some(store), auth, ..fast_config() }).await;
    let api = ApiClient::new(server.addr).with_token(Some(TOKEN.into()));

    let (ended, live) = (Sleeper::start(), Sleeper::start());
    let body = serde_json::json!({ "pid": ended.0.id() });
    call(&api, Method::POST, "/api/projects/done/run", Some(body)).await.expect("registered");
    call(&api, Method::DELETE, "/api/projects/done/run", None).await.expect("ended");
    let body = serde_json::json!({ "pid": live.0.id() });
    call(&api, Method::POST, "/api/projects/busy/run", Some(body)).await.expect("registered");

    let list = projects_when(&api, "both projects with their recorded run", |list| {
        list.projects.len() == 2 && list.projects.iter().all(|p| p.run_count == Some(1))
    })
    .await;
    let names: Vec<&str> = list.projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["busy", "done"], "the live one first: {list:?}");
    assert!(list.projects[0].live && !list.projects[1].live, "{list:?}");
    assert!(list.projects.iter().all(|p| p.last_run_started_at.is_some()), "{list:?}");
    assert!(list.stored && list.reason.is_none(), "{list:?}");

    let (status, body) =
        call(&ApiClient::new(server.addr), Method::GET, "/api/projects", None).await.expect_err("refused");
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_store_the_live_projects_are_listed_and_the_answer_says_so() {
    let server = TestServer::start(fast_config()).await;
    let live = Sleeper::start();
    let body = serde_json::json!({ "pid": live.0.id() });
    call(&server.api(), Method::POST, "/api/projects/solo/run", Some(body)).await.expect("registered");
    let list = projects_when(&server.api(), "the live project", |list| !list.projects.is_empty()).await;
    assert!(!list.stored, "{list:?}");
    assert!(list.reason.as_deref().is_some_and(|r| r.contains("--no-store")), "{list:?}");
    let [solo] = &list.projects[..] else { panic!("one project: {list:?}") };
    assert_eq!((solo.name.as_str(), solo.live, solo.run_count), ("solo", true, None));
    assert!(solo.last_run_started_at.is_some(), "the live run's start, from the hub");
    server.stop().await;
}
